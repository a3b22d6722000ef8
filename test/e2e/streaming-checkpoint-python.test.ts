/**
 * Checkpoints of a Python producer (docs/streaming.md, "Checkpoints"): its generator yields `checkpoint(state)`,
 * the host keeps the last one of each failed attempt, and the retry resumes from it (`ctx.resume`); the reader in the
 * host goes on without starting again and reads every item once, in order.
 */
import { fileURLToPath } from "node:url";
import type { Conductor, ExecutionEvent } from "@conductor/host";
import { createConductor } from "@conductor/host";
import { defineNode, stream } from "@conductor/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

/** Reads every item of a stream in the host; counts how often it started. */
let readerStarts = 0;
const reader = defineNode({
  type: "cp.reader",
  input: { items: stream(z.number()) },
  output: { seen: z.array(z.number()) },
  run: async ({ items }) => {
    readerStarts++;
    const seen: number[] = [];
    for await (const item of items) seen.push(item);
    return { seen };
  },
});

describe("a Python producer's checkpoints", () => {
  let conductor: Conductor;

  beforeAll(async () => {
    conductor = await createConductor({
      nodes: [reader] as never[],
      project: {
        dir: repo("examples/streaming"),
        blueprints: [],
        nodes: [],
        runtimes: {
          python: {
            kind: "python",
            venv: repo("runtimes/python/.venv"),
            path: [repo("runtimes/python/tests/nodes")],
            modules: ["stream_nodes_for_tests"],
          },
        },
      },
    });
    await conductor.nodeTypes();
  }, 600_000);

  afterAll(async () => {
    await conductor?.close();
  });

  it("resume a retried producer where it marked one; the reader reads each item once", async () => {
    readerStarts = 0;
    const events: ExecutionEvent[] = [];
    const result = await conductor.run(
      {
        conductor: "blueprint/v1",
        nodes: {
          p: {
            type: "test.stream-checkpointed",
            retry: { maxAttempts: 3, initialDelayMs: 1 },
            inputs: { n: { value: 100 }, every: { value: 10 }, fail_at: { value: [27, 55] } },
          },
          r: { type: "cp.reader", inputs: { items: "p.items" } },
        },
        outputs: { seen: "r.seen" },
      },
      {},
      { onEvent: (event) => events.push(event) },
    );
    expect(result.status, JSON.stringify(result.failure ?? result.nodes)).toBe("completed");
    const starts = events.flatMap((event) =>
      event.type === "node.log" && event.nodeId === "p" && event.message === "starts" ? [event.fields] : [],
    );
    expect(starts).toEqual([
      { attempt: 1, at: 0, offset: null },
      { attempt: 2, at: 20, offset: 20 },
      { attempt: 3, at: 50, offset: 50 },
    ]);
    expect(result.outputs).toEqual({ seen: Array.from({ length: 100 }, (_, i) => i) });
    expect(readerStarts).toBe(1);
    expect(result.nodes.p).toMatchObject({ status: "completed", attempt: 3 });
    expect(result.nodes.r).toMatchObject({ status: "completed", attempt: 1 });
    const streamEnds = events.filter((e) => e.type === "node.stream" && e.state !== "open");
    expect(streamEnds).toEqual([expect.objectContaining({ nodeId: "p", items: 100, state: "ended" })]);
  });
});
