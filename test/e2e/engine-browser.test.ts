import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Conductor, createConductor } from "@conductor/host";
import { type BuildOptions, build, type Metafile } from "esbuild";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium.js";
import { serveFiles } from "./static-files.js";

// The whole engine in a real Chromium page (Debian's, driven by playwright-core): the example blueprint of
// TypeScript, built-in and WebAssembly nodes runs in the page with no server but the files, gives what it gives in
// the host, and an execution interrupted by a reload resumes from the page's IndexedDB journal.
const root = fileURLToPath(new URL("../..", import.meta.url));
const example = join(root, "examples/wasm");
const files: Record<string, Uint8Array | string> = {};

/** scripts/browser-build.mjs, the engine's browser build. */
interface BrowserBuild {
  browserBuildOptions(options: BuildOptions): BuildOptions;
}

interface PageResult {
  status: string;
  outputs: Record<string, unknown>;
  failure?: string;
  nodes: Record<string, { status: string; runtime: string }>;
  events?: string[];
}

interface EngineApi {
  ready: boolean;
  openGate(): void;
  runs(name: string): number;
  resumedIds: string[];
  resumedResults(): Promise<PageResult[]>;
  run(blueprint: string, inputs: Record<string, unknown>): Promise<PageResult & { events: string[] }>;
  start(blueprint: string, inputs: Record<string, unknown>): Promise<string>;
  recorded(executionId: string): Promise<string[]>;
  invalid(blueprint: string): Promise<string>;
}

// A slow node between two quick ones: the page is reloaded while it runs.
const SLOW_BLUEPRINT = `
conductor: blueprint/v1
id: slow-chain
inputs:
  n: { schema: { type: integer } }
outputs:
  n: after.n
nodes:
  before: { type: test.increment, config: { name: before }, inputs: { n: inputs.n } }
  slow: { type: test.slow, inputs: { n: before.n } }
  after: { type: test.increment, config: { name: after }, inputs: { n: slow.n } }
`;

// Built-in nodes in the page: a CSV file fetched from the page's server and parsed.
const CSV_BLUEPRINT = `
conductor: blueprint/v1
id: csv-in-page
outputs:
  status: fetch.status
  rows: parse.rows
  count: parse.count
nodes:
  fetch: { type: core.http-request, config: { url: "ORIGIN/data/people.csv", responseType: text } }
  parse: { type: core.csv-parse, inputs: { text: fetch.body } }
`;

// An Arrow table made by one page node, passed through a built-in node, read by another.
const TABLE_BLUEPRINT = `
conductor: blueprint/v1
id: table-in-page
inputs:
  n: { schema: { type: integer } }
outputs:
  rows: sum.rows
  sum: sum.sum
  last: sum.last
nodes:
  make: { type: test.make-table, inputs: { n: inputs.n } }
  pass: { type: core.passthrough, inputs: { value: make.table } }
  sum: { type: test.sum-table, inputs: { table: pass.value } }
`;

// A blueprint using another (given to the page's engine) as a node.
const SUB_BLUEPRINT = `
conductor: blueprint/v1
id: uses-caption-stats
inputs:
  text: { schema: { type: string } }
outputs:
  words: inner.words
nodes:
  inner: { type: blueprint.caption-stats, inputs: { text: inputs.text } }
`;

describe("the engine in Chromium", () => {
  let server: Awaited<ReturnType<typeof serveFiles>> | undefined;
  let browser: Browser;
  let page: Page;
  let conductor: Conductor;
  let metafiles: Metafile[];
  let imageReport: string;

  /** Calls one of the page's functions (test/e2e/fixtures/engine-page/page.ts) and gives its answer. */
  const inPage = <K extends keyof EngineApi>(
    name: K,
    ...args: EngineApi[K] extends (...given: infer A) => unknown ? A : []
  ) =>
    page.evaluate(
      ([key, given]) => {
        const member = (globalThis as unknown as { engine: Record<string, unknown> }).engine[key];
        return typeof member === "function" ? member(...given) : member;
      },
      [name, args] as const,
    ) as Promise<EngineApi[K] extends (...given: never[]) => infer R ? Awaited<R> : EngineApi[K]>;

  const runs = async () => [
    await inPage("runs", "before"),
    await inPage("runs", "slow"),
    await inPage("runs", "after"),
  ];

  const waitForEngine = async () => {
    const errors: string[] = [];
    const onError = (error: Error) => errors.push(error.message);
    page.on("pageerror", onError);
    await page
      .waitForFunction(
        () => (globalThis as { engine?: { ready?: boolean } }).engine?.ready === true,
        undefined,
        {
          timeout: 60_000,
        },
      )
      .catch((error: Error) => {
        throw new Error(`the page did not start: ${errors.join("; ") || error.message}`);
      });
    page.off("pageerror", onError);
  };

  beforeAll(async () => {
    const { browserBuildOptions } = (await import(
      pathToFileURL(join(root, "scripts/browser-build.mjs")).href
    )) as BrowserBuild;
    const [pageBundle, worker] = await Promise.all(
      ["page.ts", "worker.ts"].map((entry) =>
        build(
          browserBuildOptions({
            entryPoints: [join(root, "test/e2e/fixtures/engine-page", entry)],
            write: false,
            metafile: true,
            alias: { "conductor-example-wasm-nodes": join(example, "nodes/test-image.ts") },
          }),
        ),
      ),
    );
    metafiles = [pageBundle!.metafile!, worker!.metafile!];
    files["/page.js"] = pageBundle!.outputFiles![0]!.text;
    files["/worker.js"] = worker!.outputFiles![0]!.text;
    files["/"] = '<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>';
    for (const name of ["checksum", "text-stats"]) {
      files[`/nodes/${name}.wasm`] = await readFile(join(example, `nodes/${name}.wasm`));
      files[`/nodes/${name}.nodes.json`] = await readFile(join(example, `nodes/${name}.nodes.json`));
    }
    files["/data/people.csv"] = "name,age,active\nada,36,true\nalan,41,false\n";
    imageReport = await readFile(join(example, "image-report.blueprint.yaml"), "utf8");
    server = await serveFiles(files);
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await waitForEngine();
    conductor = await createConductor({ projectDir: example });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await conductor?.close();
    await server?.close();
  });

  it("is bundled for the browser with no Node built-in", () => {
    const inputs = metafiles.flatMap((metafile) => Object.entries(metafile.inputs));
    const imports = inputs.flatMap(([, input]) => input.imports.map((entry) => entry.path));
    expect(imports.filter((path) => path.startsWith("node:"))).toEqual([]);
    const bundled = inputs.map(([path]) => path);
    for (const core of [
      "host/src/scheduler/execution.ts",
      "host/src/blueprint/validate-blueprint.ts",
      "host/src/runtime/in-process-runtime.ts",
      "host/src/wasm/wasm-runtime.ts",
      "host/src/browser/indexeddb-journal.ts",
    ])
      expect(bundled.some((path) => path.endsWith(core))).toBe(true);
  });

  it("runs the example image-report blueprint in the page with the host's outputs", async () => {
    const [inBrowser, inHost] = await Promise.all([
      inPage("run", imageReport, {}),
      conductor.run(join(example, "image-report.blueprint.yaml")),
    ]);
    expect(inHost.status).toBe("completed");
    expect(inBrowser.status).toBe("completed");
    expect(inBrowser.outputs).toEqual(inHost.outputs);
    expect(inBrowser.nodes).toEqual(
      Object.fromEntries(
        Object.entries(inHost.nodes).map(([id, node]) => [
          id,
          { status: node.status, runtime: node.runtime },
        ]),
      ),
    );
    // Live progress, in order: each node starts after what it reads from completed.
    const events = inBrowser.events;
    expect(events[0]).toBe("execution.started");
    expect(events.at(-1)).toBe("execution.finished");
    const at = (line: string) => {
      const index = events.indexOf(line);
      expect(index, line).toBeGreaterThan(0);
      return index;
    };
    expect(at("node.completed image")).toBeLessThan(at("node.started blur"));
    expect(at("node.completed blur")).toBeLessThan(at("node.started checksum"));
    expect(at("node.completed caption-text")).toBeLessThan(at("node.started caption"));
    expect(at("node.completed checksum")).toBeLessThan(at("node.started report"));
    expect(at("node.completed caption")).toBeLessThan(at("node.started report"));
  });

  it("gives the host's outputs for other inputs, and the host's failure for a bad config", async () => {
    const inputs = { width: 640, height: 480, caption: "a longer caption, with more words in it" };
    const [inBrowser, inHost] = await Promise.all([
      inPage("run", imageReport, inputs),
      conductor.run(join(example, "image-report.blueprint.yaml"), inputs),
    ]);
    expect(inBrowser.outputs).toEqual(inHost.outputs);
    const bad = imageReport.replace(
      "config: { width: 640, height: 480 }",
      "config: { width: 641, height: 480 }",
    );
    const badInBrowser = await inPage("run", bad, {});
    expect(badInBrowser.status).toBe("failed");
    expect(badInBrowser.failure).toBe(
      'wasm module "nodes/checksum.wasm" (node type "cpp.box-blur") failed: config width * height must equal the number of pixels',
    );
  });

  it("fetches and parses CSV in the page (core.http-request, core.csv-parse) as the host does", async () => {
    const blueprint = CSV_BLUEPRINT.replace("ORIGIN", page.url().replace(/\/$/, ""));
    const path = join(await mkdtemp(join(tmpdir(), "conductor-csv-")), "csv.blueprint.yaml");
    await writeFile(path, blueprint);
    const [inBrowser, inHost] = await Promise.all([inPage("run", blueprint, {}), conductor.run(path)]);
    expect(inHost.status).toBe("completed");
    expect(inBrowser.status).toBe("completed");
    expect(inBrowser.outputs).toEqual(inHost.outputs);
    expect(inBrowser.outputs).toEqual({
      status: 200,
      rows: [
        { name: "ada", age: 36, active: true },
        { name: "alan", age: 41, active: false },
      ],
      count: 2,
    });
    // A status outside 2xx fails the node in the page as in the host.
    const missing = blueprint.replace("/data/people.csv", "/data/missing.csv");
    const missingInBrowser = await inPage("run", missing, {});
    expect(missingInBrowser.status).toBe("failed");
    expect(missingInBrowser.failure).toContain("404");
  });

  it("passes Arrow tables between nodes in the page", async () => {
    const result = await inPage("run", TABLE_BLUEPRINT, { n: 1000 });
    expect(result.failure).toBeUndefined();
    expect(result.status).toBe("completed");
    expect(result.outputs).toEqual({ rows: 1000, sum: 500_500, last: "row 1000" });
  });

  it("runs a sub-blueprint in the page", async () => {
    const result = await inPage("run", SUB_BLUEPRINT, { text: "three small words" });
    expect(result.failure).toBeUndefined();
    expect(result.outputs).toEqual({ words: 3 });
    expect(result.nodes.inner).toEqual({ status: "completed", runtime: "blueprints" });
  });

  it("refuses an invalid blueprint in the page with the host's diagnostics", async () => {
    const wrong = imageReport.replace("type: cpp.crc32", "type: cpp.crc33");
    const message = await inPage("invalid", wrong);
    expect(message).toContain('nodes.checksum.type: unknown node type "cpp.crc33"');
  });

  it("resumes an execution after a reload without running its finished nodes again", async () => {
    const executionId = await inPage("start", SLOW_BLUEPRINT, { n: 1 });
    // Reload only once the journal holds the first node's completion and the slow node's start.
    let recorded: string[] = [];
    for (let tries = 0; tries < 600 && !recorded.includes("node.started slow"); tries++) {
      recorded = await inPage("recorded", executionId);
      if (!recorded.includes("node.started slow")) await page.waitForTimeout(50);
    }
    expect(recorded).toContain("node.completed before");
    expect(recorded).toContain("node.started slow");
    expect(await runs()).toEqual([1, 1, 0]);

    await page.reload();
    await waitForEngine();
    expect(await inPage("resumedIds")).toEqual([executionId]);
    await inPage("openGate");
    const [result] = await inPage("resumedResults");
    expect(result).toMatchObject({ status: "completed", outputs: { n: 21 } });
    // "before" ran once (its recorded output was used); the slow node, interrupted, ran again; then "after".
    expect(await runs()).toEqual([1, 2, 1]);
    const events = await inPage("recorded", executionId);
    expect(events.filter((line) => line === "node.completed before")).toHaveLength(1);
    expect(events.filter((line) => line === "execution.started")).toHaveLength(2);
    expect(events.at(-1)).toBe("execution.finished");
  });
});
