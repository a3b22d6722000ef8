import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BuildOptions, build, type Metafile } from "esbuild";
import { beforeAll, describe, expect, it } from "vitest";

// The boundary of the engine's core: every module the core's entry (`@conductor/host/core`), the page's engine, the
// debugger's views of it (`@conductor/host/browser-views`) and the wasm worker bundle must import no Node built-in. The browser build (scripts/browser-build.mjs) maps none: it
// fails on any, so this bundle is what a page, a Web Worker or Electron's renderer gets, and what differs between
// Node and a page is behind `#platform` (docs/browser.md).

const root = fileURLToPath(new URL("../../..", import.meta.url));

/** scripts/browser-build.mjs, the engine's browser build. */
interface BrowserBuild {
  browserBuildOptions(options: BuildOptions): BuildOptions;
}

async function browserBuild(): Promise<BrowserBuild> {
  return (await import(pathToFileURL(join(root, "scripts/browser-build.mjs")).href)) as BrowserBuild;
}

describe("the engine's core", () => {
  let metafile: Metafile;
  let bundles: string[];

  beforeAll(async () => {
    const { browserBuildOptions } = await browserBuild();
    const result = await build(
      browserBuildOptions({
        entryPoints: {
          core: join(root, "host/src/core/index.ts"),
          engine: join(root, "host/src/browser/index.ts"),
          views: join(root, "host/src/browser/api-views.ts"),
          "wasm-worker": join(root, "host/src/wasm/browser-worker.ts"),
        },
        write: false,
        metafile: true,
        outdir: join(root, "host/dist/core-boundary"),
      }),
    );
    metafile = result.metafile!;
    bundles = result.outputFiles!.filter((file) => file.path.endsWith(".js")).map((file) => file.text);
  }, 120_000);

  it("bundles for a browser with no Node built-in", () => {
    const imported = Object.values(metafile.inputs).flatMap((input) =>
      input.imports.map((entry) => entry.path),
    );
    expect(imported.filter((path) => path.startsWith("node:"))).toEqual([]);
    expect(Object.values(metafile.outputs).flatMap((output) => output.imports)).toEqual([]);
    for (const text of bundles) expect(text).not.toMatch(/(from|import\(|require\()\s*["']node:/);
  });

  it("holds the blueprint model, validation, the scheduler, the in-process runtime, expressions and the memory store", () => {
    const core = Object.values(metafile.outputs).find(
      (output) => output.entryPoint === "host/src/core/index.ts",
    );
    expect(Object.keys(core!.inputs)).toEqual(
      expect.arrayContaining([
        "host/src/blueprint/parse-blueprint.ts",
        "host/src/blueprint/validate-blueprint.ts",
        "host/src/scheduler/execution.ts",
        "host/src/scheduler/check-inputs.ts",
        "host/src/scheduler/cache-key.ts",
        "host/src/runtime/in-process-runtime.ts",
        "host/src/expression.ts",
        "host/src/nodes/template.ts",
        "host/src/store/memory-store.ts",
        "host/src/platform/browser.ts",
        "sdk-ts/src/protocol/value-codec.ts",
        "sdk-ts/src/runtime/node-runtime.ts",
        "sdk-ts/src/platform/browser.ts",
      ]),
    );
    expect(Object.keys(core!.inputs)).not.toContain("host/src/platform/node.ts");
    expect(Object.keys(core!.inputs)).not.toContain("sdk-ts/src/platform/node.ts");
  });

  it("uses Node's globals (Buffer, process) only behind a check, or on paths a page never takes", () => {
    // Because a page has neither, an unguarded use is a ReferenceError there, found only when that path runs.
    const NODE_ONLY: Record<string, string> = {
      "sdk-ts/src/protocol/grpc-service.ts": "grpc-js's codecs, called by grpc-js only",
      "host/src/streaming/remote-stream.ts": "streams of child-process runtimes, which a page has not",
    };
    const uses: string[] = [];
    for (const path of Object.keys(metafile.inputs)) {
      if (path.includes("node_modules") || !path.endsWith(".ts") || NODE_ONLY[path] !== undefined) continue;
      readFileSync(join(root, path), "utf8")
        .split("\n")
        .forEach((line, index) => {
          const code = line.replace(/\/\/.*$/, "").trim();
          if (code.startsWith("*") || code.startsWith("/*") || code.includes("typeof process")) return;
          if (/(?<![\w.])(Buffer|process)\.\w/.test(code)) uses.push(`${path}:${index + 1}: ${code}`);
        });
    }
    expect(uses).toEqual([]);
  });

  it("refuses a module that imports a Node built-in, naming the built-in and the module", async () => {
    const { browserBuildOptions } = await browserBuild();
    const failed = build(
      browserBuildOptions({
        stdin: {
          contents: 'import { readFileSync } from "node:fs";\nexport const read = readFileSync;\n',
          sourcefile: "host/src/reads-files.ts",
          resolveDir: join(root, "host/src"),
        },
        write: false,
      }),
    );
    await expect(failed).rejects.toThrow(/node:fs \(imported by .*reads-files\.ts\) is a Node built-in/);
  });
});
