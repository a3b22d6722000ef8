import type jsonata from "jsonata";
import type Mustache from "mustache";

/**
 * What the engine's core needs from the platform it runs on: the packages it loads on first use. They are loaded
 * synchronously, because config validation (a zod refinement) is synchronous, and lazily in Node, because most runs
 * never need them and loading them would slow the command's start. The core reaches them only through `#platform`
 * (package.json "imports"), which resolves to node.ts in Node and to browser.ts in a browser build (the "browser"
 * condition), so that no module of the core imports a Node built-in (docs/browser.md).
 */
export interface HostPlatform {
  /** JSONata (https://jsonata.org), for expressions. */
  loadJsonata(): typeof jsonata;
  /** Mustache, for `core.template`. */
  loadMustache(): typeof Mustache;
  /** ajv's JSON Schema 2020-12 validator class, for the JSON Schemas of other runtimes' ports. */
  loadAjv2020(): Ajv2020Class;
}

/** ajv's JSON Schema 2020-12 validator class. */
export type Ajv2020Class = new (options: object) => import("ajv/dist/2020.js").default;
