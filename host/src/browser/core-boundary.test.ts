import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BuildOptions, build } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";

// The boundary of the engine's core: every module the page's engine bundles (blueprints, validation, the
// scheduler, the in-process and wasm runtimes, expressions, the built-in nodes of the page) must import no Node
// built-in. The modules below still do, on paths a page never takes, and get the browser platform's stand-ins
// instead (docs/webassembly.md, "Not done yet"); any other module that starts importing one fails this test, so the
// list only shrinks.
const STILL_IMPORTING_NODE_BUILTINS = [
  "host/src/expression.ts",
  "host/src/nodes/template.ts",
  "host/src/scheduler/cache-key.ts",
  "host/src/scheduler/check-inputs.ts",
  "host/src/store/private-files.ts",
  "host/src/tenancy/secrets.ts",
  "sdk-ts/src/protocol/arrow.ts",
  "sdk-ts/src/protocol/value-codec.ts",
  "sdk-ts/src/runtime/load-node-modules.ts",
  "sdk-ts/src/runtime/module-format-hook.ts",
  "sdk-ts/src/runtime/node-runtime.ts",
];

const root = fileURLToPath(new URL("../../..", import.meta.url));
const platform = "host/src/browser/platform/";

/** scripts/browser-build.mjs, the engine's browser build. */
interface BrowserBuild {
  browserBuildOptions(options: BuildOptions): BuildOptions;
}

describe("the engine's core", () => {
  let importers: Map<string, string[]>;

  beforeAll(async () => {
    const { browserBuildOptions } = (await import(
      pathToFileURL(join(root, "scripts/browser-build.mjs")).href
    )) as BrowserBuild;
    const result = await build(
      browserBuildOptions({
        entryPoints: [join(root, "host/src/browser/index.ts")],
        write: false,
        metafile: true,
        outdir: join(root, "host/dist/core-boundary"),
      }),
    );
    // Each bundled module that imports a Node built-in imports, in this build, one of the platform's stand-ins.
    importers = new Map();
    for (const [path, input] of Object.entries(result.metafile!.inputs)) {
      if (path.startsWith(platform)) continue;
      const builtins = input.imports
        .filter((entry) => entry.path.startsWith(platform) && !entry.path.endsWith("node-globals.ts"))
        .map((entry) => entry.path);
      if (builtins.length > 0) importers.set(path, builtins);
    }
  }, 120_000);

  it("imports no Node built-in outside the modules still to be split", () => {
    const unexpected = [...importers.keys()].filter((path) => !STILL_IMPORTING_NODE_BUILTINS.includes(path));
    expect(
      unexpected,
      "these modules of the page's engine import Node built-ins; keep them off the core or list them here",
    ).toEqual([]);
  });

  it("lists only modules that still import one (a module split from Node is taken off the list)", () => {
    const gone = STILL_IMPORTING_NODE_BUILTINS.filter((path) => !importers.has(path));
    expect(gone, "these modules no longer import Node built-ins; take them off the list").toEqual([]);
  });
});
