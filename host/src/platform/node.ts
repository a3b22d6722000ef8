import { createRequire } from "node:module";
import type { HostPlatform } from "./platform.js";

const require = createRequire(import.meta.url);

/** The core's platform in Node (`#platform` without the "browser" condition): packages required on first use. */
export const platform: HostPlatform = {
  loadJsonata: () => require("jsonata"),
  loadMustache: () => require("mustache"),
  loadAjv2020: () => require("ajv/dist/2020.js").default,
};
