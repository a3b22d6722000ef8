import Ajv2020 from "ajv/dist/2020.js";
import jsonata from "jsonata";
import Mustache from "mustache";
import { ajvForThisPage } from "./csp-safe-ajv.js";
import type { Ajv2020Class, HostPlatform } from "./platform.js";

let ajv: Ajv2020Class | undefined;

/**
 * The core's platform in a browser page or a Web Worker (`#platform` under the "browser" condition): the packages
 * are bundled into the page, because a page has no node_modules to load them from later.
 */
export const platform: HostPlatform = {
  loadJsonata: () => jsonata,
  loadMustache: () => Mustache,
  // The package's module.exports is the class and so is its `default`, so either reading of a default import of
  // CommonJS (Node's, or a bundler's) gets the class; TypeScript reads it as the module.
  // Decided at first use, not at load: a page's policy does not change, and most pages never check a schema.
  loadAjv2020: () => {
    ajv ??= ajvForThisPage(Ajv2020 as unknown as Ajv2020Class);
    return ajv;
  },
};
