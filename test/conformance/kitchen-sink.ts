/**
 * The conformance "kitchen sink" in TypeScript (docs/protocol.md, section 5): the same node types every runtime
 * ships, served here by the Node sidecar and by the host's in-process runtime.
 */

import { create } from "@bufbuild/protobuf";
import { checkpoint, defineNode, NodeFailure, stream, values } from "@conductor/sdk";
import { EncodedValue, loadArrow, ValueSchema } from "@conductor/sdk/protocol";
import type { Table, Vector } from "apache-arrow";
import { z } from "zod";

/** The JSON value `conformance.produce` returns for kind "json", as exact text. */
export const PRODUCED_JSON =
  '{"string":"héllo ✓","integer":42,"big":9007199254740993,"float":1.5,"boolean":true,"null":null,"list":[1,"two",3.5],"nested":{"a":{"b":[]}}}';
const JSON_BYTES = new TextEncoder().encode(PRODUCED_JSON);

export const echo = defineNode({
  type: "conformance.echo",
  input: { value: z.unknown() },
  output: { value: z.unknown() },
  run: ({ value }) => ({ value }),
});

export const produce = defineNode({
  type: "conformance.produce",
  config: z.object({ kind: z.enum(["json", "bytes", "arrow", "large"]), size: z.number().int().optional() }),
  output: { value: z.unknown() },
  run: (_input, ctx) => {
    switch (ctx.config.kind) {
      case "json":
        // Exact JSON text: 9007199254740993 has no JavaScript number, and the sink checks every digit of it.
        return {
          value: new EncodedValue(create(ValueSchema, { kind: { case: "json", value: JSON_BYTES } })),
        };
      case "bytes":
        return { value: Uint8Array.from({ length: 256 }, (_, i) => i) };
      case "arrow": {
        const arrow = loadArrow();
        const table = new arrow.Table({
          id: arrow.vectorFromArray([1n, 2n, 3n], new arrow.Int64()),
          name: arrow.vectorFromArray(["a", null, "c"], new arrow.Utf8()),
          score: arrow.vectorFromArray([0.5, null, 2.5], new arrow.Float64()),
        });
        return { value: table };
      }
      case "large":
        return { value: Uint8Array.from({ length: ctx.config.size ?? 0 }, (_, i) => i % 251) };
    }
  },
});

export const add = defineNode({
  type: "conformance.add",
  config: z.object({ offset: z.number().optional() }),
  input: { a: z.number(), b: z.number() },
  output: { sum: z.number() },
  flags: { idempotent: true, deterministic: true },
  run: ({ a, b }, ctx) => ({ sum: a + b + (ctx.config.offset ?? 0) }),
});

export const fail = defineNode({
  type: "conformance.fail",
  config: z.object({ message: z.string(), retryable: z.boolean(), type: z.string().optional() }),
  run: (_input, ctx) => {
    throw new NodeFailure(ctx.config.message, {
      retryable: ctx.config.retryable,
      type: ctx.config.type ?? "conformance.failure",
      details: { code: 7 },
    });
  },
});

export const throwError = defineNode({
  type: "conformance.throw",
  config: z.object({ message: z.string() }),
  run: (_input, ctx) => {
    throw new TypeError(ctx.config.message);
  },
});

export const sleep = defineNode({
  type: "conformance.sleep",
  config: z.object({ ms: z.number().int().min(0) }),
  output: { slept_ms: z.number().int() },
  flags: { cancellable: true },
  run: (_input, ctx) =>
    new Promise<{ slept_ms: number }>((resolve, reject) => {
      const timer = setTimeout(() => resolve({ slept_ms: ctx.config.ms }), ctx.config.ms);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(new Error("cancelled"));
      });
    }),
});

export const report = defineNode({
  type: "conformance.report",
  output: { done: z.boolean() },
  flags: { streaming: true },
  run: (_input, ctx) => {
    ctx.log.info("hello from typescript", { n: 1 });
    ctx.progress(0.5, "half");
    for (let i = 0; i < 3; i++) ctx.emit("items", i);
    ctx.progress(1, "done");
    return { done: true };
  },
});

export const crash = defineNode({
  type: "conformance.crash",
  run: () => {
    process.exit(3);
  },
});

export const print = defineNode({
  type: "conformance.print",
  output: { ok: z.boolean() },
  run: () => {
    console.log("noise");
    process.stdout.write("noise\n");
    console.error("noise");
    return { ok: true };
  },
});

/**
 * Yields 0, 1, …, n-1 lazily (credits hold it), and fails after `failAt` items when asked (stream-contract); with
 * `checkpointEvery`, marks a checkpoint after every that many items (its state: the items so far), and a retry given
 * `resume.items` starts at its state.
 */
export const count = defineNode({
  type: "conformance.count",
  input: {
    n: z.number().int().min(0),
    failAt: z.number().int().min(0).optional(),
    checkpointEvery: z.number().int().min(1).optional(),
  },
  output: { items: stream(z.number().int()), total: z.number().int() },
  run: ({ n, failAt, checkpointEvery }, ctx) => ({
    total: n,
    items: (async function* () {
      for (let i = (ctx.resume?.items?.state as number | undefined) ?? 0; i < n; i++) {
        if (failAt !== undefined && i === failAt) {
          throw new NodeFailure(`failed after ${failAt} items`, {
            type: "conformance.stream-failed",
            retryable: false,
          });
        }
        yield i;
        if (checkpointEvery !== undefined && (i + 1) % checkpointEvery === 0) yield checkpoint(i + 1);
      }
    })(),
  }),
});

/** Reads a stream of integers to its end, or `limit` items, and gives their sum and count. */
export const sum = defineNode({
  type: "conformance.sum",
  input: { items: stream(z.number().int()), limit: z.number().int().min(0).optional() },
  output: { sum: z.number().int(), count: z.number().int() },
  run: async ({ items, limit }) => {
    let total = 0;
    let read = 0;
    if (limit === 0) return { sum: 0, count: 0 };
    for await (const item of items) {
      total += item;
      read++;
      if (limit !== undefined && read >= limit) break;
    }
    return { sum: total, count: read };
  },
});

/** Multiplies every float64 column of each record batch by `factor`, one batch in, one batch out. */
export const scale = defineNode({
  type: "conformance.scale",
  input: { batches: stream(values.table()), factor: z.number() },
  output: { batches: stream(values.table()) },
  run: ({ batches, factor }) => ({
    batches: (async function* () {
      for await (const batch of batches) yield scaleTable(batch, factor);
    })(),
  }),
});

function scaleTable(table: Table, factor: number): Table {
  const arrow = loadArrow();
  const columns: Record<string, Vector> = {};
  for (const field of table.schema.fields) {
    const column = table.getChild(field.name)!;
    columns[field.name] =
      arrow.DataType.isFloat(field.type) && field.type.precision === arrow.Precision.DOUBLE
        ? arrow.vectorFromArray(
            Array.from(column, (value) => (value === null ? null : (value as number) * factor)),
            new arrow.Float64(),
          )
        : column;
  }
  return new arrow.Table(columns);
}
