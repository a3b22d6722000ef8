/**
 * Streams between in-process nodes through the whole host (docs/streaming.md): ordering, the consumer starting on
 * the first item, backpressure by credits, two readers, failure and cancellation both ways, collecting a stream
 * into one value, and the wiring checks.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineNode, NodeFailure, stream } from "@conductor/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { BlueprintDocument } from "../blueprint/blueprint-schema.js";
import { type Conductor, createConductor } from "../conductor.js";
import type { ExecutionEvent } from "../scheduler/execution-events.js";

/** What the nodes did, in order, shared by the nodes of one test. */
let trace: string[] = [];
/** How far ahead of each reader the producer was, sampled at every item a reader reads. */
let produced = 0;
/** Opened by the first item a consumer reads; a producer may wait for it. */
let firstRead: { promise: Promise<void>; open(): void };

function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Resolves after `ms`, or never holds a test past its end (unref). */
function bound(ms: number): Promise<"timeout"> {
  return new Promise((resolve) => setTimeout(() => resolve("timeout"), ms).unref());
}

const numbers = defineNode({
  type: "st.numbers",
  input: { count: z.number().int() },
  config: z.object({
    failAt: z.number().int().optional(),
    /** Fail only in attempts up to this one, with a retryable failure. */
    failUntilAttempt: z.number().int().optional(),
    waitForReader: z.boolean().default(false),
  }),
  output: { items: stream(z.number()), label: z.string() },
  run: ({ count }, ctx) => ({
    label: `numbers to ${count}`,
    items: (async function* () {
      try {
        for (let i = 0; i < count; i++) {
          if (i === ctx.config.failAt) {
            const until = ctx.config.failUntilAttempt;
            if (until === undefined) throw new NodeFailure(`boom at ${i}`, { type: "test.boom" });
            if (ctx.attempt <= until) {
              trace.push(`attempt ${ctx.attempt} fails at ${i}`);
              throw new NodeFailure(`boom at ${i}`, { type: "test.boom", retryable: true });
            }
          }
          produced = i + 1;
          trace.push(`produce ${i}`);
          yield i;
          if (i === 0 && ctx.config.waitForReader) {
            const outcome = await Promise.race([
              firstRead.promise.then(() => "read" as const),
              bound(30_000),
            ]);
            trace.push(`producer saw first read: ${outcome}`);
          }
        }
        trace.push("producer done");
      } finally {
        trace.push("producer finally");
      }
    })(),
  }),
});

const sum = defineNode({
  type: "st.sum",
  input: { items: stream(z.number()) },
  config: z.object({
    name: z.string().default("sum"),
    /** Yield to the event loop before each item: a slow reader. */
    slow: z.boolean().default(false),
    failAfter: z.number().int().optional(),
    stopAfter: z.number().int().optional(),
  }),
  output: { total: z.number(), seen: z.array(z.number()), maxLead: z.number() },
  run: async ({ items }, ctx) => {
    const { name, slow, failAfter, stopAfter } = ctx.config;
    trace.push(`${name} started`);
    let total = 0;
    let maxLead = 0;
    const seen: number[] = [];
    try {
      for await (const item of items) {
        if (seen.length === 0) firstRead.open();
        maxLead = Math.max(maxLead, produced - seen.length);
        seen.push(item);
        total += item;
        if (seen.length === failAfter) throw new NodeFailure(`${name} gives up after ${failAfter}`);
        if (seen.length === stopAfter) break;
        if (slow) await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      trace.push(`${name} caught: ${(error as Error).message}`);
      throw error;
    }
    trace.push(`${name} done`);
    return { total, seen, maxLead };
  },
});

const count = defineNode({
  type: "st.count",
  input: { values: z.array(z.number()) },
  output: { length: z.number() },
  run: ({ values }) => ({ length: values.length }),
});

const describeText = defineNode({
  type: "st.text",
  input: { text: z.string() },
  output: { text: z.string() },
  run: ({ text }) => ({ text }),
});

/** Stream in, stream out: doubles every item it reads, one at a time. */
const double = defineNode({
  type: "st.double",
  input: { items: stream(z.number()) },
  output: { items: stream(z.number()) },
  run: ({ items }) => ({
    items: (async function* () {
      for await (const item of items) yield item * 2;
    })(),
  }),
});

const WINDOW = 64;

function blueprint(
  nodes: BlueprintDocument["nodes"],
  extra: Partial<BlueprintDocument> = {},
): BlueprintDocument {
  return { conductor: "blueprint/v1", nodes, ...extra };
}

describe("streams between in-process nodes", () => {
  let conductor: Conductor;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "streaming-"));
    conductor = await createConductor({
      nodes: [numbers, sum, count, describeText, double] as never[],
      project: { dir, blueprints: [], nodes: [], runtimes: {} },
    });
  });

  afterAll(async () => {
    await conductor.close();
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    trace = [];
    produced = 0;
    firstRead = gate();
  });

  async function run(document: BlueprintDocument, inputs: Record<string, unknown> = {}) {
    const events: ExecutionEvent[] = [];
    const result = await conductor.run(document, inputs, { onEvent: (event) => events.push(event) });
    return { result, events };
  }

  it("delivers every item in order and records the stream's count", async () => {
    const { result, events } = await run(
      blueprint(
        {
          p: { type: "st.numbers", inputs: { count: { value: 1000 } } },
          s: { type: "st.sum", inputs: { items: "p.items" } },
        },
        { outputs: { total: "s.total", label: "p.label" } },
      ),
    );
    expect(result.status).toBe("completed");
    expect(result.outputs).toEqual({ total: (999 * 1000) / 2, label: "numbers to 1000" });
    const seen = (result.nodes.s!.outputs as { seen: number[] }).seen;
    expect(seen).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    const streamEvents = events.filter((e) => e.type === "node.stream");
    expect(streamEvents.at(0)).toMatchObject({ nodeId: "p", port: "items", items: 0, state: "open" });
    expect(streamEvents.at(-1)).toMatchObject({ nodeId: "p", port: "items", items: 1000, state: "ended" });
    expect(result.nodes.p!.status).toBe("completed");
    expect(result.nodes.p!.outputs).toEqual({
      label: "numbers to 1000",
      items: { stream: "p.items", items: 1000, state: "ended" },
    });
  });

  it("passes every item through nodes that read one stream and produce another", async () => {
    // 1000 items are far more than one window of credits, so each transform must keep reading its input after its
    // own stream has opened.
    const { result } = await run(
      blueprint(
        {
          p: { type: "st.numbers", inputs: { count: { value: 1000 } } },
          d1: { type: "st.double", inputs: { items: "p.items" } },
          d2: { type: "st.double", inputs: { items: "d1.items" } },
          s: { type: "st.sum", inputs: { items: "d2.items" } },
        },
        { outputs: { total: "s.total" } },
      ),
    );
    expect(result.status).toBe("completed");
    expect(result.outputs).toEqual({ total: 4 * ((999 * 1000) / 2) });
    expect(result.nodes.d1!.outputs).toEqual({ items: { stream: "d1.items", items: 1000, state: "ended" } });
    expect(result.nodes.d2!.outputs).toEqual({ items: { stream: "d2.items", items: 1000, state: "ended" } });
  });

  it("starts the consumer on the first item, before the producer finishes", async () => {
    const { result, events } = await run(
      blueprint({
        p: { type: "st.numbers", config: { waitForReader: true }, inputs: { count: { value: 3 } } },
        s: { type: "st.sum", inputs: { items: "p.items" } },
      }),
    );
    expect(result.status).toBe("completed");
    // The producer waits for the consumer's first read before it goes on: a consumer started only after its
    // producer finished would never read, and the producer would see the bound's timeout.
    expect(trace).toContain("producer saw first read: read");
    expect(trace.indexOf("sum started")).toBeLessThan(trace.indexOf("producer done"));
    const order = events
      .filter(
        (e) =>
          (e.type === "node.started" && e.nodeId === "s") ||
          (e.type === "node.completed" && e.nodeId === "p"),
      )
      .map((e) => `${e.type} ${"nodeId" in e ? e.nodeId : ""}`);
    expect(order).toEqual(["node.started s", "node.completed p"]);
  });

  it("holds a producer that would run ahead of a slow reader to the credits", async () => {
    const { result } = await run(
      blueprint({
        p: { type: "st.numbers", inputs: { count: { value: 5000 } } },
        s: { type: "st.sum", config: { slow: true }, inputs: { items: "p.items" } },
      }),
    );
    expect(result.status).toBe("completed");
    const { maxLead, seen } = result.nodes.s!.outputs as { maxLead: number; seen: number[] };
    expect(seen).toHaveLength(5000);
    // Without credits the producer (which never waits) would be thousands of items ahead.
    expect(maxLead).toBeGreaterThan(1);
    expect(maxLead).toBeLessThanOrEqual(WINDOW + 1);
  });

  it("goes at the pace of the slower of two readers, each reading every item", async () => {
    const { result } = await run(
      blueprint({
        p: { type: "st.numbers", inputs: { count: { value: 3000 } } },
        fast: { type: "st.sum", config: { name: "fast" }, inputs: { items: "p.items" } },
        slow: { type: "st.sum", config: { name: "slow", slow: true }, inputs: { items: "p.items" } },
      }),
    );
    expect(result.status).toBe("completed");
    const fast = result.nodes.fast!.outputs as { seen: number[]; maxLead: number };
    const slow = result.nodes.slow!.outputs as { seen: number[]; maxLead: number };
    const all = Array.from({ length: 3000 }, (_, i) => i);
    expect(fast.seen).toEqual(all);
    expect(slow.seen).toEqual(all);
    expect(slow.maxLead).toBeLessThanOrEqual(WINDOW + 1);
  });

  it("gives an upstream failure to the consumer where it iterates", async () => {
    const { result } = await run(
      blueprint({
        p: { type: "st.numbers", config: { failAt: 5 }, inputs: { count: { value: 100 } } },
        s: { type: "st.sum", inputs: { items: "p.items" } },
      }),
    );
    expect(result.status).toBe("failed");
    expect(result.failure).toMatchObject({ nodeId: "p", type: "test.boom", message: "boom at 5" });
    expect(result.nodes.p!.status).toBe("failed");
    expect(result.nodes.s!.status).toBe("failed");
    expect(result.nodes.s!.failure).toMatchObject({
      type: "stream.upstream",
      message: 'node "s" reads stream "p.items", which failed after 5 items: boom at 5',
    });
    expect(trace).toContain(
      'sum caught: node "s" reads stream "p.items", which failed after 5 items: boom at 5',
    );
  });

  it("restarts the streaming segment when a retried producer fails mid-stream", async () => {
    const { result, events } = await run(
      blueprint({
        p: {
          type: "st.numbers",
          config: { failAt: 5, failUntilAttempt: 1 },
          retry: { maxAttempts: 2, initialDelayMs: 1 },
          inputs: { count: { value: 20 } },
        },
        s: { type: "st.sum", inputs: { items: "p.items" } },
      }),
    );
    expect(result.status).toBe("completed");
    expect(trace).toContain("attempt 1 fails at 5");
    // The reader started twice and read the whole stream of the second attempt, from its first item.
    expect(trace.filter((line) => line === "sum started")).toHaveLength(2);
    expect((result.nodes.s!.outputs as { seen: number[] }).seen).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    expect(result.nodes.p!).toMatchObject({ status: "completed", attempt: 2 });
    const producerFailures = events.filter((e) => e.type === "node.failed" && e.nodeId === "p");
    expect(producerFailures).toEqual([expect.objectContaining({ willRetry: true, attempt: 1 })]);
    const streamEnds = events
      .filter((e) => e.type === "node.stream" && e.state !== "open")
      .map((e) => (e.type === "node.stream" ? `${e.items} ${e.state}` : ""));
    expect(streamEnds).toEqual(["5 failed", "20 ended"]);
  });

  it("stops and cancels the producer when its consumer fails", async () => {
    const { result } = await run(
      blueprint({
        p: { type: "st.numbers", inputs: { count: { value: 1_000_000 } } },
        s: { type: "st.sum", config: { failAfter: 3 }, inputs: { items: "p.items" } },
      }),
    );
    expect(result.status).toBe("failed");
    expect(result.failure).toMatchObject({ nodeId: "s", message: "sum gives up after 3" });
    expect(result.nodes.p!.status).toBe("cancelled");
    expect(trace).toContain("producer finally");
    expect(trace).not.toContain("producer done");
    expect(produced).toBeLessThanOrEqual(3 + WINDOW + 1);
  });

  it("stops the producer, which completes, when its only reader stops early and succeeds", async () => {
    const { result, events } = await run(
      blueprint({
        p: { type: "st.numbers", inputs: { count: { value: 1_000_000 } } },
        s: { type: "st.sum", config: { stopAfter: 10 }, inputs: { items: "p.items" } },
      }),
    );
    expect(result.status).toBe("completed");
    expect((result.nodes.s!.outputs as { seen: number[] }).seen).toHaveLength(10);
    expect(result.nodes.p!.status).toBe("completed");
    expect(trace).toContain("producer finally");
    expect(events.filter((e) => e.type === "node.stream").at(-1)).toMatchObject({ state: "stopped" });
  });

  it("cancels both ends when the execution is cancelled mid-stream", async () => {
    const handle = await conductor.start(
      blueprint({
        p: { type: "st.numbers", inputs: { count: { value: 1_000_000 } } },
        s: { type: "st.sum", config: { slow: true }, inputs: { items: "p.items" } },
      }),
      {},
    );
    await firstRead.promise;
    handle.cancel("enough");
    const result = await handle.result;
    expect(result.status).toBe("cancelled");
    expect(result.nodes.p!.status).toBe("cancelled");
    expect(result.nodes.s!.status).toBe("cancelled");
    expect(trace).toContain("producer finally");
  });

  it("collects a stream into one list for an input bound with collect: true", async () => {
    const { result, events } = await run(
      blueprint(
        {
          p: { type: "st.numbers", inputs: { count: { value: 250 } } },
          c: { type: "st.count", inputs: { values: { from: "p.items", collect: true } } },
          s: { type: "st.sum", inputs: { items: "p.items" } },
        },
        { outputs: { length: "c.length", total: "s.total" } },
      ),
    );
    expect(result.status).toBe("completed");
    expect(result.outputs).toEqual({ length: 250, total: (249 * 250) / 2 });
    const order = events
      .filter(
        (e) =>
          (e.type === "node.started" && e.nodeId === "c") ||
          (e.type === "node.completed" && e.nodeId === "p"),
      )
      .map((e) => e.type);
    expect(order).toEqual(["node.completed", "node.started"]);
  });

  it("records stream progress and counts in the journal, never the items", async () => {
    const journalDir = await mkdtemp(join(tmpdir(), "streaming-journal-"));
    const path = join(journalDir, "journal.db");
    const document = blueprint({
      p: { type: "st.numbers", inputs: { count: { value: 2500 } } },
      s: { type: "st.sum", inputs: { items: "p.items" } },
    });
    let executionId = "";
    const first = await createConductor({
      nodes: [numbers, sum] as never[],
      project: { dir: journalDir, blueprints: [], nodes: [], runtimes: {} },
      journal: path,
    });
    try {
      const result = await first.run(document, {});
      expect(result.status).toBe("completed");
      executionId = result.executionId;
    } finally {
      await first.close();
    }
    const reopened = await createConductor({
      nodes: [numbers, sum] as never[],
      project: { dir: journalDir, blueprints: [], nodes: [], runtimes: {} },
      journal: path,
    });
    try {
      const detail = reopened.executions.get(executionId)!;
      expect(detail.nodes.p!.outputs).toEqual({
        label: "numbers to 2500",
        items: { stream: "p.items", items: 2500, state: "ended" },
      });
      const recorded: ExecutionEvent[] = [];
      await new Promise<void>((resolve) => {
        reopened.executions.subscribe(executionId, (event) => {
          recorded.push(event);
          if (event.type === "execution.finished") resolve();
        });
      });
      const progress = recorded
        .filter((e) => e.type === "node.stream")
        .map((e) => (e.type === "node.stream" ? `${e.nodeId}.${e.port} ${e.items} ${e.state}` : ""));
      expect(progress).toEqual([
        "p.items 0 open",
        "p.items 1000 open",
        "p.items 2000 open",
        "p.items 2500 ended",
      ]);
    } finally {
      await reopened.close();
      await rm(journalDir, { recursive: true, force: true });
    }
  });

  describe("wiring checks", () => {
    async function diagnostics(document: BlueprintDocument) {
      const { valid, diagnostics } = await conductor.validate(document);
      expect(valid).toBe(false);
      return diagnostics;
    }

    it("refuses a stream bound to an input taking one value without collect", async () => {
      expect(
        await diagnostics(
          blueprint({
            p: { type: "st.numbers", inputs: { count: { value: 1 } } },
            c: { type: "st.count", inputs: { values: "p.items" } },
          }),
        ),
      ).toEqual([
        expect.objectContaining({
          path: "nodes.c.inputs.values",
          message:
            'input "values" of "st.count" takes one value, but output "items" of node "p" (st.numbers) is a stream of items',
          suggestion:
            'bind it as { from: "p.items", collect: true } to read every item as one list once the stream ended, or read it with a stream input',
        }),
      ]);
    });

    it("refuses one value bound to a stream input", async () => {
      expect(
        await diagnostics(
          blueprint({
            p: { type: "st.numbers", inputs: { count: { value: 1 } } },
            s: { type: "st.sum", inputs: { items: "p.label" } },
          }),
        ),
      ).toEqual([
        expect.objectContaining({
          path: "nodes.s.inputs.items",
          message:
            'input "items" of "st.sum" is a stream of items, but output "label" of node "p" (st.numbers) gives one value; expected a stream output',
        }),
      ]);
    });

    it("checks the items a collected stream gives against the input", async () => {
      const found = await diagnostics(
        blueprint({
          p: { type: "st.numbers", inputs: { count: { value: 1 } } },
          t: { type: "st.text", inputs: { text: { from: "p.items", collect: true } } },
        }),
      );
      expect(found).toHaveLength(1);
      expect(found[0]!.path).toBe("nodes.t.inputs.text");
      expect(found[0]!.message).toMatch(/^type mismatch: output "items" of node "p" \(st.numbers\) gives/);
    });

    it("refuses collect on a plain output and a stream as a blueprint output", async () => {
      const found = await diagnostics(
        blueprint(
          {
            p: { type: "st.numbers", inputs: { count: { value: 1 } } },
            t: { type: "st.text", inputs: { text: { from: "p.label", collect: true } } },
          },
          { outputs: { all: "p.items" } },
        ),
      );
      expect(found.map((d) => [d.path, d.message])).toEqual([
        [
          "nodes.t.inputs.text",
          'collect: true reads a stream into one list, but output "label" of node "p" (st.numbers) is not a stream output',
        ],
        [
          "outputs.all",
          'blueprint output "all" reads "p.items", a stream of items; a blueprint output takes one value',
        ],
      ]);
    });
  });
});
