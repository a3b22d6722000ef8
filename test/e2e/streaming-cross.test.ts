/**
 * The cross-language stream of examples/streaming (docs/streaming.md): Python makes Arrow record batches lazily,
 * Rust scales them, TypeScript reads them; the types are kept, the reader starts before the producer is done, and
 * a slow reader holds the producer two runtimes away.
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Conductor, ExecutionEvent, RuntimeSpec } from "@conductor/host";
import { createConductor } from "@conductor/host";
import { defineNode, type NodeDefinition, stream, values } from "@conductor/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const exampleDir = repo("examples/streaming");

/** The runtimes of examples/streaming/conductor.yaml, with paths from the repository. */
const runtimes: Record<string, RuntimeSpec> = {
  python: {
    kind: "python",
    venv: repo("runtimes/python/.venv"),
    path: [repo("runtimes/python/examples")],
    modules: ["stream_nodes"],
  },
  rust: { kind: "rust", package: repo("runtimes/rust"), binary: "conductor-example-runtime" },
};

/** Reads `limit` batches, pausing after each (the producers get every chance to run ahead), then stops. */
const firstBatches = defineNode({
  type: "xt.first-batches",
  input: { batches: stream(values.table()), limit: z.number().int() },
  output: { read: z.number().int(), rows: z.number().int() },
  run: async ({ batches, limit }) => {
    let read = 0;
    let rows = 0;
    for await (const batch of batches) {
      read++;
      rows += batch.numRows;
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (read >= limit) break;
    }
    return { read, rows };
  },
});

describe("a stream of Arrow batches from Python through Rust to TypeScript", () => {
  let conductor: Conductor;

  beforeAll(async () => {
    // The example's own node module, loaded as the project loads it (it lives outside the tests' sources).
    const { batchStats } = (await import(pathToFileURL(`${exampleDir}/nodes/stats.ts`).href)) as {
      batchStats: NodeDefinition;
    };
    conductor = await createConductor({
      nodes: [batchStats, firstBatches] as never[],
      project: { dir: exampleDir, blueprints: ["."], nodes: [], runtimes },
    });
    await conductor.nodeTypes();
  }, 600_000);

  afterAll(async () => {
    await conductor?.close();
  });

  it("runs examples/streaming: every row, the sum, the Arrow types kept, the reader started first", async () => {
    const events: ExecutionEvent[] = [];
    const rows = 20_000;
    const result = await conductor.run(
      await conductor.loadBlueprint("stream-batches"),
      { rows, batchRows: 1_000 },
      { onEvent: (event) => events.push(event) },
    );
    expect(result.status).toBe("completed");
    expect(result.outputs).toEqual({
      rows,
      batches: 20,
      // value = id, doubled by Rust: 2 * (0 + 1 + … + rows-1).
      sum: rows * (rows - 1),
      types: { id: "Int64", value: "Float64", label: "Utf8" },
    });
    const order = events.map((event) => `${event.type} ${"nodeId" in event ? event.nodeId : ""}`);
    expect(order).toContain("node.started stats");
    expect(order.indexOf("node.started stats")).toBeLessThan(order.indexOf("node.completed batches"));
    expect(result.nodes.batches!.outputs).toMatchObject({
      batches: { stream: "batches.batches", items: 20, state: "ended" },
    });
  }, 120_000);

  it("reads Python's batches in TypeScript directly, types kept", async () => {
    const result = await conductor.run(
      {
        conductor: "blueprint/v1",
        nodes: {
          batches: { type: "py.batches", inputs: { rows: { value: 2_500 }, batchRows: { value: 1_000 } } },
          stats: { type: "ts.batch-stats", inputs: { batches: "batches.batches" } },
        },
        outputs: { rows: "stats.rows", batches: "stats.batches", sum: "stats.sum", types: "stats.types" },
      },
      {},
    );
    expect(result.status, JSON.stringify(result.nodes)).toBe("completed");
    expect(result.outputs).toEqual({
      rows: 2_500,
      batches: 3,
      sum: (2_499 * 2_500) / 2,
      types: { id: "Int64", value: "Float64", label: "Utf8" },
    });
  }, 120_000);

  it("holds the Python producer, two runtimes away, when the TypeScript reader is slow", async () => {
    // 10 000 batches asked for; the reader reads 5 and stops.
    const result = await conductor.run(
      {
        conductor: "blueprint/v1",
        nodes: {
          batches: {
            type: "py.batches",
            inputs: { rows: { value: 10_000_000 }, batchRows: { value: 1_000 } },
          },
          scale: { type: "rs.scale-batches", inputs: { batches: "batches.batches", factor: { value: 2 } } },
          first: { type: "xt.first-batches", inputs: { batches: "scale.batches", limit: { value: 5 } } },
        },
        outputs: { read: "first.read", rows: "first.rows" },
      },
      {},
    );
    expect(result.status).toBe("completed");
    expect(result.outputs).toEqual({ read: 5, rows: 5_000 });
    // What Python made is bounded by the credits of the two streams (64 each) and the batch Rust holds, not by
    // the 10 000 batches asked for; it was stopped once the reader stopped.
    const produced = (result.nodes.batches!.outputs as { batches: { items: number; state: string } }).batches;
    expect(produced.items).toBeGreaterThanOrEqual(5);
    expect(produced.items).toBeLessThanOrEqual(5 + 64 + 64 + 64 + 2);
    expect(produced.state).toBe("stopped");
    expect(result.nodes.scale!.status).toBe("completed");
  }, 120_000);
});
