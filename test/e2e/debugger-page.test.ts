import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type Conductor, createConductor } from "@conductor/host";
import { type BuildOptions, build } from "esbuild";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./chromium.js";
import { serveFiles } from "./static-files.js";

// The debugger's "run in this page" mode in a real Chromium page (Debian's, driven by playwright-core): the page
// loads its engine, nodes and WebAssembly modules, then runs blueprints with no request to the server, drawing
// each node's state live in the debugger's graph, and resumes an execution from IndexedDB after a reload.
const root = fileURLToPath(new URL("../..", import.meta.url));
const example = join(root, "examples/wasm");
const fixture = join(root, "test/e2e/fixtures/debugger-page");
const files: Record<string, Uint8Array | string> = {};

/** scripts/browser-build.mjs, the engine's browser build. */
interface BrowserBuild {
  browserBuildOptions(options: BuildOptions): BuildOptions;
}

/** What the page functions below use of the DOM (the tests compile without the DOM's types). */
interface DomNode {
  getAttribute(name: string): string | null;
}
declare const document: { body: unknown; querySelectorAll(selector: string): Iterable<DomNode> };
declare const MutationObserver: new (
  callback: () => void,
) => { observe(target: unknown, options: Record<string, boolean>): void };

describe("the debugger's page mode in Chromium", () => {
  let server: Awaited<ReturnType<typeof serveFiles>> | undefined;
  let browser: Browser;
  let page: Page;
  let conductor: Conductor;
  /** Every request the server received, in order. */
  const requests: string[] = [];

  const waitForPage = async () => {
    const errors: string[] = [];
    const onError = (error: Error) => errors.push(error.message);
    page.on("pageerror", onError);
    await page
      .waitForFunction(() => (globalThis as { pageReady?: boolean }).pageReady === true, undefined, {
        timeout: 60_000,
      })
      .catch((error: Error) => {
        throw new Error(`the page did not start: ${errors.join("; ") || error.message}`);
      });
    page.off("pageerror", onError);
  };

  const nodeStatus = (nodeId: string) =>
    page.locator(`g.node[data-node-id="${nodeId}"]`).getAttribute("data-status");

  const executionStatus = () => page.locator("[data-execution-status]").getAttribute("data-execution-status");

  /** Records, in the page, each state the graph draws a node in, in order (a MutationObserver on the graph). */
  const recordStates = () =>
    page.evaluate(() => {
      const seen: Record<string, string[]> = {};
      const note = () => {
        for (const node of document.querySelectorAll("g.node[data-node-id]")) {
          const id = node.getAttribute("data-node-id")!;
          const status = node.getAttribute("data-status")!;
          const list = seen[id] ?? [];
          if (list.at(-1) !== status) list.push(status);
          seen[id] = list;
        }
      };
      new MutationObserver(note).observe(document.body, {
        subtree: true,
        attributes: true,
        childList: true,
      });
      note();
      Object.assign(globalThis, { seenStates: seen });
    });

  const seenStates = () =>
    page.evaluate(() => (globalThis as unknown as { seenStates: Record<string, string[]> }).seenStates);

  const chooseBlueprint = (path: string) => page.selectOption('select[name="blueprint"]', { label: path });

  /**
   * Lets the slow node finish, once it waits at the gate: the graph may show it running before it got there (after a
   * reload, the journal's record of it is drawn before the resumed execution reaches the node again).
   */
  const openGate = async () => {
    await page.waitForFunction(
      () => (globalThis as unknown as { gateWaiters(): number }).gateWaiters() > 0,
      undefined,
      { timeout: 30_000 },
    );
    await page.evaluate(() => (globalThis as unknown as { openGate(): void }).openGate());
  };

  const waitForStatus = (status: string) =>
    page.locator(`[data-execution-status="${status}"]`).waitFor({ timeout: 60_000 });

  beforeAll(async () => {
    const { browserBuildOptions } = (await import(
      pathToFileURL(join(root, "scripts/browser-build.mjs")).href
    )) as BrowserBuild;
    const common = {
      write: false,
      outdir: join(root, "test/dist/debugger-page"),
      jsx: "automatic",
      jsxImportSource: "preact",
      alias: {
        "conductor-example-wasm-nodes": join(example, "nodes/test-image.ts"),
        "conductor-debugger-page-run": join(root, "host/debugger/src/page-run/index.ts"),
      },
    } as const;
    const [pageBundle, worker] = await Promise.all([
      build(browserBuildOptions({ ...common, entryPoints: { page: join(fixture, "page.ts") } })),
      build(browserBuildOptions({ ...common, entryPoints: { worker: join(fixture, "worker.ts") } })),
    ]);
    for (const output of [...pageBundle!.outputFiles!, ...worker!.outputFiles!])
      files[`/${output.path.split("/").at(-1)}`] = output.text;
    files["/"] = [
      '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">',
      '<link rel="stylesheet" href="/page.css"><div id="app"></div><script type="module" src="/page.js"></script>',
    ].join("");
    for (const name of ["checksum", "text-stats"]) {
      files[`/nodes/${name}.wasm`] = await readFile(join(example, `nodes/${name}.wasm`));
      files[`/nodes/${name}.nodes.json`] = await readFile(join(example, `nodes/${name}.nodes.json`));
    }
    files["/image-report.blueprint.yaml"] = await readFile(join(example, "image-report.blueprint.yaml"));
    server = await serveFiles(files, (path) => requests.push(path));
    browser = await launchChromium();
    page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await waitForPage();
    conductor = await createConductor({ projectDir: example });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await conductor?.close();
    await server?.close();
  });

  it("runs the example blueprint in the page with the host's outputs, asking nothing of the server", async () => {
    await page.locator('g.node[data-node-id="blur"]').waitFor();
    const before = requests.length;
    await recordStates();
    await page.click("button.run");
    await waitForStatus("completed");
    expect(requests.slice(before)).toEqual([]);

    const inHost = await conductor.run(join(example, "image-report.blueprint.yaml"));
    expect(inHost.status).toBe("completed");
    const outputs = await page.locator("[data-execution-status]").getAttribute("data-outputs");
    expect(JSON.parse(outputs!)).toEqual(inHost.outputs);
    for (const nodeId of Object.keys(inHost.nodes))
      expect(await nodeStatus(nodeId), `${nodeId} ${JSON.stringify(await seenStates())}`).toBe("completed");
    // Each node was drawn in other states before it completed, none after.
    const seen = await seenStates();
    for (const nodeId of Object.keys(inHost.nodes)) {
      expect(seen[nodeId]?.at(0), nodeId).toBe("idle");
      expect(seen[nodeId]?.at(-1), nodeId).toBe("completed");
    }
  });

  it("shows each node's state live while the execution runs", async () => {
    await chooseBlueprint("slow-chain.blueprint.yaml");
    await page.locator('g.node[data-node-id="slow"]').waitFor();
    const before = requests.length;
    await recordStates();
    await page.click("button.run");
    // The slow node waits for its gate: the graph shows it running, after its predecessor completed.
    await page.locator('g.node[data-node-id="slow"][data-status="running"]').waitFor({ timeout: 30_000 });
    expect(await executionStatus()).toBe("running");
    expect(await nodeStatus("before")).toBe("completed");
    expect(await nodeStatus("after")).toBe("pending");
    await page.click('g.node[data-node-id="slow"]');
    await expect.poll(() => page.locator(".side-panel").textContent()).toContain("waiting for the gate");

    await openGate();
    await waitForStatus("completed");
    expect(requests.slice(before)).toEqual([]);
    const seen = await seenStates();
    expect(seen.slow).toContain("running");
    expect(seen.slow!.indexOf("running")).toBeLessThan(seen.slow!.indexOf("completed"));
    expect(seen.slow!.at(-1)).toBe("completed");
    const outputs = await page.locator("[data-execution-status]").getAttribute("data-outputs");
    expect(JSON.parse(outputs!)).toEqual({ n: 21 });
  });

  it("resumes a running execution after a reload and draws it to its end", async () => {
    await chooseBlueprint("slow-chain.blueprint.yaml");
    await page.click("button.run");
    await page.locator('g.node[data-node-id="slow"][data-status="running"]').waitFor({ timeout: 30_000 });
    const executionId = (await page.locator("[data-execution-status] code").textContent())!.trim();

    await page.reload();
    await waitForPage();
    // The resumed execution is shown at once, "before" completed from the journal, the slow node running again.
    await page.locator('g.node[data-node-id="slow"][data-status="running"]').waitFor({ timeout: 30_000 });
    expect((await page.locator("[data-execution-status] code").textContent())!.trim()).toBe(executionId);
    expect(await nodeStatus("before")).toBe("completed");
    const before = requests.length;
    await openGate();
    await waitForStatus("completed");
    expect(requests.slice(before)).toEqual([]);
    expect(await nodeStatus("after")).toBe("completed");
    const outputs = await page.locator("[data-execution-status]").getAttribute("data-outputs");
    expect(JSON.parse(outputs!)).toEqual({ n: 21 });
  });
});
