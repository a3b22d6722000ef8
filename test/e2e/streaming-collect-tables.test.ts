/**
 * A stream of Arrow record batches collected (`collect: true`) for a node of a child runtime (docs/streaming.md,
 * "Wiring"): an input taking a table gets one table holding every batch, a batch of another schema fails the node
 * naming the fields, and an input that would take the list of tables is refused before anything runs, because a
 * list of tables has no wire form.
 */
import { fileURLToPath } from "node:url";
import type { Conductor, RuntimeSpec } from "@conductor/host";
import { createConductor } from "@conductor/host";
import { defineNode, stream, values } from "@conductor/sdk";
import { tableFromArrays } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const repo = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

const runtimes: Record<string, RuntimeSpec> = {
  python: {
    kind: "python",
    venv: repo("runtimes/python/.venv"),
    path: [repo("runtimes/python/examples")],
    modules: ["stream_nodes", "conductor_runtime.conformance"],
  },
  rust: { kind: "rust", package: repo("runtimes/rust"), binary: "conductor-example-runtime" },
};

/** Two batches of one schema, then one whose `value` is Int32 and that has a column more. */
const mixedBatches = defineNode({
  type: "xt.mixed-batches",
  input: {},
  output: { batches: stream(values.table()) },
  run: () => ({
    batches: (async function* () {
      yield tableFromArrays({ id: BigInt64Array.from([0n, 1n]), value: Float64Array.from([0.5, 1.5]) });
      yield tableFromArrays({ id: BigInt64Array.from([2n]), value: Float64Array.from([2.5]) });
      yield tableFromArrays({
        id: BigInt64Array.from([3n]),
        value: Int32Array.from([3]),
        note: Float64Array.from([3]),
      });
    })(),
  }),
});

describe("a collected stream of Arrow batches read by a node of a child runtime", () => {
  let conductor: Conductor;

  beforeAll(async () => {
    conductor = await createConductor({
      nodes: [mixedBatches] as never[],
      project: { dir: repo("examples/streaming"), blueprints: [], nodes: [], runtimes },
    });
    await conductor.nodeTypes();
  }, 600_000);

  afterAll(async () => {
    await conductor?.close();
  });

  it("gives a Python table input one table holding every batch of a Python stream, types kept", async () => {
    const result = await conductor.run(
      {
        conductor: "blueprint/v1",
        nodes: {
          batches: { type: "py.batches", inputs: { rows: { value: 2_500 }, batchRows: { value: 1_000 } } },
          summary: {
            type: "py.table-summary",
            inputs: { table: { from: "batches.batches", collect: true } },
          },
        },
        outputs: {
          rows: "summary.rows",
          batches: "summary.batches",
          sum: "summary.sum",
          types: "summary.types",
        },
      },
      {},
    );
    expect(result.status, JSON.stringify(result.nodes)).toBe("completed");
    expect(result.outputs).toEqual({
      rows: 2_500,
      batches: 3,
      sum: (2_499 * 2_500) / 2,
      types: { id: "int64", value: "double", label: "string" },
    });
  }, 120_000);

  it("gives a Rust table input one table holding every batch of a Python stream", async () => {
    const result = await conductor.run(
      {
        conductor: "blueprint/v1",
        nodes: {
          batches: { type: "py.batches", inputs: { rows: { value: 2_500 }, batchRows: { value: 1_000 } } },
          stats: { type: "rs.stats", inputs: { table: { from: "batches.batches", collect: true } } },
        },
        outputs: { rows: "stats.rows", stats: "stats.stats" },
      },
      {},
    );
    expect(result.status, JSON.stringify(result.nodes)).toBe("completed");
    const outputs = result.outputs as { rows: number; stats: Record<string, Record<string, number>> };
    expect(outputs.rows).toBe(2_500);
    // value = id = 0 … 2499 over the three batches.
    expect(outputs.stats.value).toMatchObject({ count: 2_500, min: 0, max: 2_499, mean: 1_249.5 });
    expect(outputs.stats.id).toMatchObject({ count: 2_500, min: 0, max: 2_499 });
  }, 120_000);

  it("fails the reading node, naming its input and the differing fields, when a batch has another schema", async () => {
    const result = await conductor.run(
      {
        conductor: "blueprint/v1",
        nodes: {
          mixed: { type: "xt.mixed-batches" },
          summary: { type: "py.table-summary", inputs: { table: { from: "mixed.batches", collect: true } } },
        },
        outputs: { rows: "summary.rows" },
      },
      {},
    );
    expect(result.status).toBe("failed");
    expect(result.nodes.mixed!.status).toBe("completed");
    expect(result.nodes.summary!.status).toBe("failed");
    expect(result.nodes.summary!.failure).toMatchObject({
      type: "stream.schema-mismatch",
      retryable: false,
      message:
        'input "table" of node "summary" collects stream "mixed.batches" into one Arrow table, but batch 2 has a schema different from batch 0: field "value" is Int32, expected Float64; field "note" (Float64) is not in batch 0',
    });
  }, 120_000);

  it("refuses before anything runs an input of a child runtime that would take the list of tables", async () => {
    const blueprint = {
      conductor: "blueprint/v1" as const,
      nodes: {
        batches: { type: "py.batches", inputs: { rows: { value: 10 }, batchRows: { value: 5 } } },
        echo: { type: "conformance.echo", inputs: { value: { from: "batches.batches", collect: true } } },
      },
      outputs: { value: "echo.value" },
    };
    const { valid, diagnostics } = await conductor.validate(blueprint);
    expect(valid).toBe(false);
    expect(diagnostics).toEqual([
      {
        path: "nodes.echo.inputs.value",
        message:
          'input "value" of node "echo" (conformance.echo) collects stream "batches.batches" of Arrow record batches into a list of tables, but runtime "python" takes values in their wire form, where a list of tables has none; expected the input to take one Arrow table',
        suggestion:
          'declare input "value" as one Arrow table (the batches are then concatenated into it), or read the stream item by item with a stream input',
      },
    ]);
  }, 120_000);
});
