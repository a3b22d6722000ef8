// The engine's browser build: esbuild options that bundle the engine's core (blueprints, validation, the scheduler,
// the in-process and wasm runtimes, expressions, the journals of host/src/browser) for a page or a Web Worker.
//
// The core imports no Node built-in: what differs between Node and a page (the packages loaded on first use, a
// synchronous SHA-256, blob files) is behind `#platform` in host/package.json and sdk-ts/package.json, whose
// "browser" condition this build selects (host/src/platform/browser.ts, sdk-ts/src/platform/browser.ts). Any
// import of a Node built-in fails the build, naming the module that imports it (docs/browser.md).
//
// Run directly, it writes host/dist/browser-bundle/{engine,wasm-worker}.js (host/dist/browser is tsc's).
import { rmSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** Node's built-in modules, with and without the `node:` prefix. */
const NODE_BUILTINS = new Set([...builtinModules, ...builtinModules.map((name) => `node:${name}`)]);

/**
 * Packages the core loads that ship a separate build for browsers: csv-parse's Node build leans on Node's Buffer
 * throughout, its browser build brings what it needs.
 */
export const BROWSER_PACKAGES = {
  "csv-parse/sync": "csv-parse/browser/esm/sync",
};

/** An esbuild plugin failing the build on any import of a Node built-in. */
export const noNodeBuiltins = {
  name: "conductor-no-node-builtins",
  setup(builder) {
    builder.onResolve({ filter: /^[a-z_:/]+$/ }, (args) => {
      if (!NODE_BUILTINS.has(args.path)) return undefined;
      const importer = args.importer.startsWith(root) ? args.importer.slice(root.length + 1) : args.importer;
      return {
        errors: [
          {
            text: `${args.path} (imported by ${importer}) is a Node built-in, and the engine's core runs in pages and Web Workers too; keep it off the core's path, or put what differs behind #platform`,
          },
        ],
      };
    });
  },
};

/** esbuild options for a page or a Web Worker bundle of the given entry points. */
export function browserBuildOptions(options) {
  return {
    bundle: true,
    platform: "browser",
    format: "esm",
    target: "es2022",
    // The TypeScript sources, as the tests and the debugger build read them.
    conditions: ["source"],
    plugins: [noNodeBuiltins],
    logLevel: "silent",
    ...options,
    alias: { ...BROWSER_PACKAGES, ...options.alias },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const outdir = join(root, "host", "dist", "browser-bundle");
  rmSync(outdir, { recursive: true, force: true });
  await build(
    browserBuildOptions({
      entryPoints: {
        engine: join(root, "host", "src", "browser", "index.ts"),
        "wasm-worker": join(root, "host", "src", "wasm", "browser-worker.ts"),
      },
      outdir,
      minify: true,
      sourcemap: true,
      logLevel: "warning",
    }),
  );
}
