import { createHash } from "node:crypto";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Conductor, ConductorError, createConductor, parseBlueprint } from "@conductor/host";
import { type BuildOptions, build, type Metafile } from "esbuild";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium.js";
import { workerNodes } from "./fixtures/core-worker/nodes.js";
import { serveFiles } from "./static-files.js";

// The engine's core (`@conductor/host/core`) alone in a dedicated Web Worker of real Chromium: a blueprint of
// built-in nodes (JSONata, Mustache) and TypeScript nodes gives the outputs, node statuses, failures and validation
// messages the Node host gives for it, with no Node built-in in the worker's bundle and none in its scope.
const root = fileURLToPath(new URL("../..", import.meta.url));

/** scripts/browser-build.mjs, the engine's browser build. */
interface BrowserBuild {
  browserBuildOptions(options: BuildOptions): BuildOptions;
}

interface WorkerResult {
  status?: string;
  outputs?: Record<string, unknown>;
  failure?: string;
  nodes?: Record<string, { status: string; runtime: string }>;
  events?: string[];
  error?: string;
}

const REPORT = `
conductor: blueprint/v1
id: worker-report
inputs:
  scores: { schema: { type: array, items: { type: number } } }
outputs:
  top: top.top
  summary: summary.result
  text: text.text
  digest: digest.hex
  bytes: digest.bytes
nodes:
  top: { type: test.top-scores, config: { above: 50 }, inputs: { scores: inputs.scores } }
  summary:
    type: core.json-transform
    config: { expression: "{ 'count': $count($), 'best': $max($), 'mean': $average($) }" }
    inputs: { data: top.top }
  text:
    type: core.template
    config: { template: "{{count}} scores above 50, the best {{best}} ✓" }
    inputs: { data: summary.result }
  digest: { type: test.digest, inputs: { text: text.text } }
`;

const FAILING = `
conductor: blueprint/v1
id: worker-failure
nodes:
  name: { type: core.constant, config: { value: ada } }
  refuse: { type: test.refuse, inputs: { name: name.value } }
`;

const INVALID = `
conductor: blueprint/v1
id: worker-invalid
nodes:
  top: { type: test.top-scores, config: { above: "fifty" }, inputs: { scores: inputs.scores } }
  ghost: { type: test.no-such-node }
`;

/** The page: starts the worker and passes blueprints to it (plain JavaScript, no engine in the page itself). */
const PAGE = `
const worker = new Worker("/core-worker.js", { type: "module" });
const pending = new Map();
let next = 0;
globalThis.core = {
  ready: new Promise((resolve, reject) => {
    worker.addEventListener("error", (event) => reject(new Error("the worker failed: " + event.message)));
    worker.addEventListener("message", ({ data }) => {
      if (data.ready) resolve(data);
      else {
        pending.get(data.id)?.(data);
        pending.delete(data.id);
      }
    });
  }),
  run(blueprint, inputs) {
    const id = next++;
    return new Promise((resolve) => {
      pending.set(id, resolve);
      worker.postMessage({ id, blueprint, inputs });
    });
  },
};
`;

describe("the engine's core in a Web Worker", () => {
  let server: Awaited<ReturnType<typeof serveFiles>> | undefined;
  let browser: Browser;
  let page: Page;
  let conductor: Conductor;
  let metafile: Metafile;

  const inWorker = (blueprint: string, inputs: Record<string, unknown> = {}) =>
    page.evaluate(
      ([text, given]) =>
        (globalThis as unknown as { core: { run(b: string, i: unknown): Promise<WorkerResult> } }).core.run(
          text,
          given,
        ),
      [blueprint, inputs] as const,
    );

  const inHost = (blueprint: string, inputs: Record<string, unknown> = {}) =>
    conductor.run(parseBlueprint(blueprint), inputs);

  beforeAll(async () => {
    const { browserBuildOptions } = (await import(
      pathToFileURL(join(root, "scripts/browser-build.mjs")).href
    )) as BrowserBuild;
    const worker = await build(
      browserBuildOptions({
        entryPoints: [join(root, "test/e2e/fixtures/core-worker/worker.ts")],
        write: false,
        metafile: true,
      }),
    );
    metafile = worker.metafile!;
    server = await serveFiles({
      "/": '<!doctype html><meta charset="utf-8"><script type="module" src="/page.js"></script>',
      "/page.js": PAGE,
      "/core-worker.js": worker.outputFiles![0]!.text,
    });
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(`${server.url}/`);
    conductor = await createConductor({
      nodes: workerNodes,
      store: false,
      project: { dir: root, blueprints: [], nodes: [], runtimes: {} },
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await conductor?.close();
    await server?.close();
  });

  it("starts from the core's bundle, with no Node built-in imported and none in the worker's scope", async () => {
    const imports = Object.values(metafile.inputs).flatMap((input) =>
      input.imports.map((entry) => entry.path),
    );
    expect(imports.filter((path) => path.startsWith("node:"))).toEqual([]);
    expect(Object.keys(metafile.inputs)).toEqual(
      expect.arrayContaining(["host/src/core/index.ts", "host/src/scheduler/execution.ts"]),
    );
    const ready = await page.evaluate(
      () => (globalThis as unknown as { core: { ready: Promise<{ nodeGlobals: string[] }> } }).core.ready,
    );
    expect(ready.nodeGlobals).toEqual([]);
  });

  it("runs a blueprint of built-in and TypeScript nodes with the host's outputs", async () => {
    const inputs = { scores: [12, 88, 51, 97, 50, 64] };
    const [worker, host] = await Promise.all([inWorker(REPORT, inputs), inHost(REPORT, inputs)]);
    expect(worker.error).toBeUndefined();
    expect(host.status).toBe("completed");
    expect(worker.status).toBe("completed");
    expect(worker.outputs).toEqual(host.outputs);
    expect(worker.outputs).toMatchObject({
      top: [97, 88, 64, 51],
      summary: { count: 4, best: 97, mean: 75 },
      text: "4 scores above 50, the best 97 ✓",
      // The worker's SHA-256 (pure JavaScript) of the UTF-8 text, as Node's crypto computes it.
      digest: createHash("sha256").update("4 scores above 50, the best 97 ✓").digest("hex"),
      bytes: 34,
    });
    expect(worker.nodes).toEqual(
      Object.fromEntries(
        Object.entries(host.nodes).map(([id, node]) => [id, { status: node.status, runtime: node.runtime }]),
      ),
    );
    // Each node starts after the node it reads from completed.
    const events = worker.events!;
    const at = (line: string) => {
      const index = events.indexOf(line);
      expect(index, line).toBeGreaterThan(0);
      return index;
    };
    expect(events[0]).toBe("execution.started");
    expect(events.at(-1)).toBe("execution.finished");
    expect(at("node.completed top")).toBeLessThan(at("node.started summary"));
    expect(at("node.completed summary")).toBeLessThan(at("node.started text"));
    expect(at("node.completed text")).toBeLessThan(at("node.started digest"));
  });

  it("fails a node as the host does", async () => {
    const [worker, host] = await Promise.all([inWorker(FAILING), inHost(FAILING)]);
    expect(host.status).toBe("failed");
    expect(worker.status).toBe("failed");
    expect(worker.failure).toBe(host.failure?.message);
    expect(worker.failure).toContain("no scores for ada");
    expect(worker.nodes).toEqual({
      name: { status: "completed", runtime: "builtin" },
      refuse: { status: "failed", runtime: "builtin" },
    });
  });

  it("refuses an invalid blueprint with the host's diagnostics", async () => {
    const worker = await inWorker(INVALID);
    const host = await inHost(INVALID).then(
      () => "ran",
      (error: unknown) => (error instanceof ConductorError ? error.message : String(error)),
    );
    expect(host).toContain("test.no-such-node");
    expect(worker.error).toBe(host);
  });
});
