/**
 * What a page gets for `node:module` in the browser build (scripts/browser-build.mjs): `createRequire` answers the
 * few packages the host loads on demand (the JSON Schema validator, JSONata, Mustache, apache-arrow), bundled into the page
 * because a page has no node_modules to load them from later. Any other package is refused with its name.
 */

import * as apacheArrow from "apache-arrow";

// Because esbuild bundles a require() of a literal path into the page (as CommonJS), these are resolved at build
// time; the Node build never compiles this file into the host's code path.
const packages: Record<string, () => unknown> = {
  "ajv/dist/2020.js": () => require("ajv/dist/2020.js"),
  jsonata: () => require("jsonata"),
  mustache: () => require("mustache"),
  // Imported, not required: a node's own `import "apache-arrow"` gets the same ES module, so its tables are
  // instances of the classes the codec checks (the CommonJS build would be a second copy). The sdk asks for it by
  // the path import.meta.resolve gives, which the browser build makes "bundled:apache-arrow" (node-globals.ts).
  "apache-arrow": () => apacheArrow,
};

/** Like Node's `createRequire`, for the packages above only. */
export function createRequire(_from: string | URL): (id: string) => unknown {
  return (id: string) => {
    const load = packages[id.replace(/^bundled:/, "")];
    if (load === undefined) throw unavailable(`require("${id}")`);
    return load();
  };
}

/** Node's module hooks and type stripping (read as optional by the sdk's module loader): none in a page. */
export const registerHooks = undefined;
export const stripTypeScriptTypes = undefined;

function unavailable(what: string): Error {
  return new Error(
    `${what} is not available in a browser page (the engine's browser build bundles only its core)`,
  );
}
