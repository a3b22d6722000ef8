/**
 * Streams across processes with the Node sidecar (docs/streaming.md, docs/protocol.md §3.5): items between two
 * nodes of the sidecar, from the sidecar to an in-process reader and back, in order, with the producer held by
 * the credits of a slow reader, failures and cancellation in both directions. The sidecar's nodes note what they
 * do in a trace file (they run in another process), one line per event in order.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BlueprintDocument, Conductor, ExecutionEvent } from "@conductor/host";
import { createConductor } from "@conductor/host";
import { defineNode, stream } from "@conductor/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

const nodesModule = fileURLToPath(new URL("./streaming-nodes.ts", import.meta.url));
const withoutCredits = fileURLToPath(new URL("./streaming-without-credits.ts", import.meta.url));

/** How many items the sidecar's producer had generated when the in-process reader paused (-1: not yet). */
let generatedAtPause = -1;
let traceFile = "";

const lines = (): string[] => (existsSync(traceFile) ? readFileSync(traceFile, "utf8").split("\n") : []);
const generated = (): number => lines().filter((line) => line.startsWith("generate ")).length;

/** Waits until the trace holds `line` (bounded, so a test that goes wrong ends). */
async function traced(line: string): Promise<void> {
  for (let i = 0; i < 1000 && !lines().includes(line); i++) await new Promise((r) => setTimeout(r, 20));
}

/** An in-process reader: reads `pauseAfter` items, pauses (the producer gets every chance to run ahead), stops. */
const slowReader = defineNode({
  type: "ip.slow-reader",
  input: { items: stream(z.number()) },
  config: z.object({ pauseAfter: z.number().int() }),
  output: { count: z.number().int() },
  run: async ({ items }, ctx) => {
    let count = 0;
    for await (const _item of items) {
      count++;
      if (count === ctx.config.pauseAfter) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        generatedAtPause = generated();
        break;
      }
    }
    return { count };
  },
});

/** An in-process producer of live values, read by a node of the sidecar. */
const liveNumbers = defineNode({
  type: "ip.numbers",
  input: { n: z.number().int() },
  output: { items: stream(z.number().int()) },
  run: ({ n }) => ({
    items: (async function* () {
      for (let i = 0; i < n; i++) yield i;
    })(),
  }),
});

describe("streams across processes with the Node sidecar", () => {
  let conductor: Conductor;
  let dir: string;
  let runs = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "streaming-sidecar-"));
    conductor = await createConductor({
      nodes: [slowReader, liveNumbers] as never[],
      project: {
        dir,
        blueprints: [],
        nodes: [],
        runtimes: { node: { kind: "node", modules: [nodesModule] } },
      },
    });
    await conductor.nodeTypes();
  }, 120_000);

  afterAll(async () => {
    await conductor?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh trace file for one test. */
  function freshTrace(): string {
    traceFile = join(dir, `trace-${++runs}.txt`);
    return traceFile;
  }

  async function run(nodes: BlueprintDocument["nodes"], outputs: Record<string, string> = {}) {
    const events: ExecutionEvent[] = [];
    const result = await conductor.run(
      { conductor: "blueprint/v1", nodes, outputs },
      {},
      { onEvent: (event) => events.push(event) },
    );
    return { result, events };
  }

  it("passes every item in order between two sidecar nodes; the reader starts before the producer is done", async () => {
    const trace = freshTrace();
    const { result, events } = await run(
      {
        p: { type: "sx.numbers", config: { trace }, inputs: { n: { value: 500 } } },
        s: { type: "sx.total", config: { trace }, inputs: { items: "p.items" } },
      },
      { sum: "s.sum", total: "p.total", seen: "s.seen" },
    );
    expect(result.status).toBe("completed");
    expect(result.outputs).toMatchObject({ sum: (499 * 500) / 2, total: 500 });
    expect(result.outputs.seen).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(result.nodes.p!.outputs).toMatchObject({
      items: { stream: "p.items", items: 500, state: "ended" },
    });
    // The reader started before the producer was done, and the producer never ran more than the credits ahead.
    const order = lines();
    expect(order.indexOf("consumer starts")).toBeLessThan(order.indexOf("producer done"));
    expect(order.indexOf("consumer starts")).toBeLessThan(order.indexOf("generate 100"));
    const kinds = events.map((event) => `${event.type} ${"nodeId" in event ? event.nodeId : ""}`);
    expect(kinds.indexOf("node.started s")).toBeLessThan(kinds.indexOf("node.completed p"));
  }, 60_000);

  it("holds a sidecar producer that would run ahead of a slow in-process reader to the credits", async () => {
    const trace = freshTrace();
    generatedAtPause = -1;
    const { result } = await run({
      p: { type: "sx.numbers", config: { trace }, inputs: { n: { value: 1_000_000 } } },
      r: { type: "ip.slow-reader", config: { pauseAfter: 100 }, inputs: { items: "p.items" } },
    });
    expect(result.status).toBe("completed");
    expect(result.nodes.r!.outputs).toEqual({ count: 100 });
    // 100 read, and at most one window of credits (64) beyond them generated, of a million asked for.
    expect(generatedAtPause).toBeGreaterThanOrEqual(100);
    expect(generatedAtPause).toBeLessThanOrEqual(100 + 64);
    // The reader stopped early: the producer's generator was closed (its finally block ran) and it completed.
    await traced("producer finally");
    expect(lines()).toContain("producer finally");
    expect(lines()).not.toContain("producer done");
    expect(result.nodes.p!.status).toBe("completed");
    expect(result.nodes.p!.outputs).toMatchObject({ items: { state: "stopped" } });
  }, 60_000);

  it("feeds a sidecar reader from an in-process producer", async () => {
    const { result } = await run(
      {
        p: { type: "ip.numbers", inputs: { n: { value: 300 } } },
        s: { type: "sx.total", inputs: { items: "p.items" } },
      },
      { seen: "s.seen" },
    );
    expect(result.status).toBe("completed");
    expect(result.outputs.seen).toEqual(Array.from({ length: 300 }, (_, i) => i));
  }, 60_000);

  it("collects a sidecar stream into one list of live values for an in-process input", async () => {
    const { result } = await run(
      {
        p: { type: "sx.numbers", inputs: { n: { value: 10 } } },
        c: { type: "core.passthrough", inputs: { value: { from: "p.items", collect: true } } },
      },
      { list: "c.value" },
    );
    expect(result.status).toBe("completed");
    expect(result.outputs.list).toEqual(Array.from({ length: 10 }, (_, i) => i));
  }, 60_000);

  it("gives a failure mid-stream to the reader where it iterates", async () => {
    const trace = freshTrace();
    const { result } = await run({
      p: { type: "sx.numbers", config: { trace, failAt: 5 }, inputs: { n: { value: 100 } } },
      s: { type: "sx.total", config: { trace }, inputs: { items: "p.items" } },
    });
    expect(result.status).toBe("failed");
    expect(result.nodes.p!.status).toBe("failed");
    expect(result.nodes.p!.failure).toMatchObject({ type: "test.boom", message: "boom at 5" });
    expect(result.nodes.s!.status).toBe("failed");
    expect(result.nodes.s!.failure?.type).toBe("stream.upstream");
    expect(result.nodes.s!.failure?.message).toContain("boom at 5");
    // The reader read the 5 items before the failure, in order.
    expect(lines().filter((line) => line.startsWith("consume "))).toEqual(
      [0, 1, 2, 3, 4].map((i) => `consume ${i}`),
    );
  }, 60_000);

  it("restarts the streaming segment across processes when a retried producer fails mid-stream", async () => {
    const trace = freshTrace();
    const { result, events } = await run(
      {
        p: {
          type: "sx.numbers",
          config: { trace, failAt: 5, failUntilAttempt: 1 },
          retry: { maxAttempts: 2, initialDelayMs: 1, jitter: false },
          inputs: { n: { value: 100 } },
        },
        s: { type: "sx.total", config: { trace }, inputs: { items: "p.items" } },
      },
      { seen: "s.seen" },
    );
    expect(result.status).toBe("completed");
    expect(result.nodes.p!.attempt).toBe(2);
    // The reader read the second attempt's stream from its first item, every item once.
    expect(result.outputs.seen).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const order = lines();
    expect(order.indexOf("attempt 1 fails at 5")).toBeGreaterThan(-1);
    expect(order.lastIndexOf("generate 0")).toBeGreaterThan(order.indexOf("attempt 1 fails at 5"));
    const failed = events.filter((event) => event.type === "node.failed");
    expect(failed.map((event) => ("nodeId" in event ? event.nodeId : "")).sort()).toEqual(["p", "s"]);
    expect(failed.every((event) => "willRetry" in event && event.willRetry === true)).toBe(true);
  }, 60_000);

  it("resumes a retried sidecar producer from its last checkpoint; the readers go on, reading each item once", async () => {
    const trace = freshTrace();
    const { result, events } = await run(
      {
        p: {
          type: "sx.checkpointed",
          config: { trace, every: 10, failAt: [27, 55] },
          retry: { maxAttempts: 3, initialDelayMs: 1 },
          inputs: { n: { value: 100 } },
        },
        // One reader in the sidecar (items forwarded to it), one in the host.
        s: { type: "sx.total", config: { trace }, inputs: { items: "p.items" } },
        r: { type: "ip.slow-reader", config: { pauseAfter: 1_000 }, inputs: { items: "p.items" } },
      },
      { seen: "s.seen", count: "r.count" },
    );
    expect(result.status, JSON.stringify(result.failure)).toBe("completed");
    expect(lines().filter((line) => line.startsWith("attempt"))).toEqual([
      "attempt 1 starts at 0",
      "attempt 1 fails at 27",
      "attempt 2 starts at 20 (offset 20)",
      "attempt 2 fails at 55",
      "attempt 3 starts at 50 (offset 50)",
    ]);
    // Each reader ran once and read every item once, in order.
    expect(lines().filter((line) => line === "consumer starts")).toHaveLength(1);
    expect(result.outputs).toEqual({ seen: Array.from({ length: 100 }, (_, i) => i), count: 100 });
    expect(result.nodes.p).toMatchObject({ status: "completed", attempt: 3 });
    expect(result.nodes.s).toMatchObject({ status: "completed", attempt: 1 });
    const streamEnds = events.filter((e) => e.type === "node.stream" && e.state !== "open");
    expect(streamEnds).toEqual([expect.objectContaining({ nodeId: "p", items: 100, state: "ended" })]);
  });

  it("cancels the sidecar producer when its reader fails", async () => {
    const trace = freshTrace();
    const { result } = await run({
      p: { type: "sx.numbers", config: { trace }, inputs: { n: { value: 1_000_000 } } },
      s: { type: "sx.total", config: { trace, failAfter: 10 }, inputs: { items: "p.items" } },
    });
    expect(result.status).toBe("failed");
    expect(result.nodes.s!.failure).toMatchObject({ type: "test.gave-up" });
    expect(result.nodes.p!.status).toBe("cancelled");
    await traced("producer finally");
    expect(lines()).toContain("producer finally");
    expect(generated()).toBeLessThanOrEqual(10 + 64 + 64);
  }, 60_000);

  it("cancels both ends when the execution is cancelled mid-stream", async () => {
    const trace = freshTrace();
    const handle = await conductor.start(
      {
        conductor: "blueprint/v1",
        nodes: {
          p: { type: "sx.numbers", config: { trace }, inputs: { n: { value: 1_000_000 } } },
          r: { type: "ip.slow-reader", config: { pauseAfter: 1_000_000 }, inputs: { items: "p.items" } },
        },
      },
      {},
    );
    await traced("generate 10");
    handle.cancel("enough");
    const result = await handle.result;
    expect(result.status).toBe("cancelled");
    expect(result.nodes.p!.status).toBe("cancelled");
    expect(result.nodes.r!.status).toBe("cancelled");
    await traced("producer finally");
    expect(lines()).toContain("producer finally");
  }, 60_000);
});

describe("a runtime without stream.credits", () => {
  it("has a blueprint using its stream ports refused, naming the node, its type, the runtime and the feature", async () => {
    const dir = await mkdtemp(join(tmpdir(), "streaming-legacy-"));
    const conductor = await createConductor({
      project: {
        dir,
        blueprints: [],
        nodes: [],
        runtimes: { legacy: { kind: "command", command: [process.execPath, withoutCredits] } },
      },
    });
    try {
      await expect(
        conductor.run(
          { conductor: "blueprint/v1", nodes: { p: { type: "sx.numbers", inputs: { n: { value: 3 } } } } },
          {},
        ),
      ).rejects.toThrow(
        'nodes.p: node "p" (sx.numbers) has stream ports (items), but runtime "legacy" did not announce the feature "stream.credits", so it cannot carry streams (docs/protocol.md §3.5)',
      );
    } finally {
      await conductor.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
