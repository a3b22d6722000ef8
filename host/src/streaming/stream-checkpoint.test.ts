/**
 * A producer that marks checkpoints in its stream and fails mid-stream (docs/streaming.md, "Checkpoints"): its
 * retry resumes from the last checkpoint, the host drops the items its readers already have, and the readers go
 * on, reading each item once, without starting again.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkpoint, defineNode, NodeFailure, stream } from "@conductor/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { type Conductor, createConductor } from "../conductor.js";
import type { ExecutionEvent } from "../scheduler/execution-events.js";

/** What the nodes did, in order. */
let trace: string[] = [];

/**
 * Yields 0 … count-1, a checkpoint after every `every` items (its state: the next item); attempts up to
 * `failUntilAttempt` fail (retryably) when about to yield `failAt`, or at `failAt + every*k` for later ones.
 */
const numbers = defineNode({
  type: "ck.numbers",
  input: { count: z.number().int() },
  config: z.object({
    every: z.number().int().min(1),
    failAt: z.array(z.number().int()),
    retryable: z.boolean().default(true),
  }),
  output: { items: stream(z.number()) },
  run: ({ count }, ctx) => {
    const resume = ctx.resume?.items;
    trace.push(
      `attempt ${ctx.attempt} starts at ${resume === undefined ? 0 : `${String(resume.state)} (offset ${resume.offset})`}`,
    );
    return {
      items: (async function* () {
        for (let i = (resume?.state as number | undefined) ?? 0; i < count; i++) {
          if (ctx.config.failAt[ctx.attempt - 1] === i) {
            trace.push(`attempt ${ctx.attempt} fails at ${i}`);
            throw new NodeFailure(`boom at ${i}`, { type: "test.boom", retryable: ctx.config.retryable });
          }
          yield i;
          if ((i + 1) % ctx.config.every === 0) yield checkpoint(i + 1);
        }
      })(),
    };
  },
});

/** Reads every item, noting when it started. */
const collect = defineNode({
  type: "ck.collect",
  input: { items: stream(z.number()) },
  output: { seen: z.array(z.number()) },
  run: async ({ items }) => {
    trace.push("reader starts");
    const seen: number[] = [];
    for await (const item of items) seen.push(item);
    return { seen };
  },
});

describe("a stream producer resumed from its checkpoint", () => {
  let conductor: Conductor;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "stream-checkpoint-"));
    conductor = await createConductor({
      nodes: [numbers, collect] as never[],
      project: { dir, blueprints: [], nodes: [], runtimes: {} },
    });
  });

  afterAll(async () => {
    await conductor.close();
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    trace = [];
  });

  async function run(config: Record<string, unknown>, count: number, maxAttempts: number) {
    const events: ExecutionEvent[] = [];
    const result = await conductor.run(
      {
        conductor: "blueprint/v1",
        nodes: {
          p: {
            type: "ck.numbers",
            config,
            retry: { maxAttempts, initialDelayMs: 1 },
            inputs: { count: { value: count } },
          },
          r1: { type: "ck.collect", inputs: { items: "p.items" } },
          r2: { type: "ck.collect", inputs: { items: "p.items" } },
        },
      },
      {},
      { onEvent: (event) => events.push(event) },
    );
    return { result, events };
  }

  it("resumes from the last checkpoint; the readers, started once, read every item once, in order", async () => {
    // Checkpoints after 10, 20, …; attempt 1 fails at 27 (last checkpoint 20), attempt 2 at 55 (last 50).
    const { result, events } = await run({ every: 10, failAt: [27, 55] }, 100, 3);
    expect(result.status, JSON.stringify(result.failure)).toBe("completed");
    expect(trace.filter((line) => !line.startsWith("reader"))).toEqual([
      "attempt 1 starts at 0",
      "attempt 1 fails at 27",
      "attempt 2 starts at 20 (offset 20)",
      "attempt 2 fails at 55",
      "attempt 3 starts at 50 (offset 50)",
    ]);
    expect(trace.filter((line) => line === "reader starts")).toHaveLength(2);
    const every = Array.from({ length: 100 }, (_, i) => i);
    expect((result.nodes.r1!.outputs as { seen: number[] }).seen).toEqual(every);
    expect((result.nodes.r2!.outputs as { seen: number[] }).seen).toEqual(every);
    expect(result.nodes.p).toMatchObject({ status: "completed", attempt: 3 });
    expect(result.nodes.r1).toMatchObject({ status: "completed", attempt: 1 });
    // The producer's failures were retried; its stream counts 100 items, each once.
    const failures = events.filter((e) => e.type === "node.failed");
    expect(failures.map((e) => [e.nodeId, e.type === "node.failed" && e.willRetry])).toEqual([
      ["p", true],
      ["p", true],
    ]);
    const streamEnds = events.filter((e) => e.type === "node.stream" && e.state !== "open");
    expect(streamEnds).toEqual([expect.objectContaining({ nodeId: "p", items: 100, state: "ended" })]);
  });

  it("restarts the segment as before when the failure came before any checkpoint", async () => {
    const { result } = await run({ every: 10, failAt: [5] }, 30, 2);
    expect(result.status).toBe("completed");
    expect(trace.filter((line) => !line.startsWith("reader"))).toEqual([
      "attempt 1 starts at 0",
      "attempt 1 fails at 5",
      "attempt 2 starts at 0",
    ]);
    // The readers were restarted with the segment.
    expect(trace.filter((line) => line === "reader starts")).toHaveLength(4);
    expect((result.nodes.r1!.outputs as { seen: number[] }).seen).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
  });

  it("gives the readers the failure when the policy does not retry it", async () => {
    const { result } = await run({ every: 10, failAt: [25], retryable: false }, 40, 3);
    expect(result.status).toBe("failed");
    expect(result.nodes.p).toMatchObject({ status: "failed", attempt: 1 });
    expect(result.nodes.r1!.failure).toMatchObject({ type: "stream.upstream" });
    expect(trace.filter((line) => !line.startsWith("reader"))).toEqual([
      "attempt 1 starts at 0",
      "attempt 1 fails at 25",
    ]);
  });
});
