// The engine's browser build: esbuild options that bundle the host's platform-neutral core (blueprints, validation,
// the scheduler, the in-process and wasm runtimes, the journals of host/src/browser) for a page or a Web Worker.
//
// The core's Node-only paths (files, blobs, worker threads, loading node modules from disk) stay where they are;
// in the browser build each Node built-in they import resolves to host/src/browser/platform/, where calling one
// says it is not available in a page. A Node built-in not listed in BUILTINS fails the build, so a new Node
// dependency of the core is noticed here rather than in a page.
//
// Run directly, it writes host/dist/browser-bundle/{engine,wasm-worker}.js (host/dist/browser is tsc's).
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const platform = join(root, "host", "src", "browser", "platform");

/** The Node built-ins the core imports, and what a page gets for each. */
export const BUILTINS = {
  "node:module": join(platform, "node-module.ts"),
  "node:crypto": join(platform, "node-builtins.ts"),
  "node:fs": join(platform, "node-builtins.ts"),
  "node:fs/promises": join(platform, "node-builtins.ts"),
  "node:path": join(platform, "node-builtins.ts"),
  "node:url": join(platform, "node-builtins.ts"),
  "node:vm": join(platform, "node-builtins.ts"),
  "node:worker_threads": join(platform, "node-builtins.ts"),
  "node:timers/promises": join(platform, "node-builtins.ts"),
};

/**
 * Packages the core loads that ship a separate build for browsers: csv-parse's Node build leans on Node's Buffer
 * throughout, its browser build brings what it needs.
 */
export const BROWSER_PACKAGES = {
  "csv-parse/sync": "csv-parse/browser/esm/sync",
};

/** An esbuild plugin mapping the built-ins above, and failing on any other. */
export const nodeBuiltinsForBrowser = {
  name: "conductor-node-builtins-for-browser",
  setup(builder) {
    builder.onResolve({ filter: /^node:/ }, (args) => {
      const path = BUILTINS[args.path];
      if (path !== undefined) return { path };
      return {
        errors: [
          {
            text: `${args.path} (imported by ${args.importer.slice(root.length + 1)}) has no browser counterpart; keep it off the core's path or add one in host/src/browser/platform`,
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
    plugins: [nodeBuiltinsForBrowser],
    inject: [join(platform, "node-globals.ts")],
    define: { "import.meta.resolve": "conductorResolveInPage" },
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
