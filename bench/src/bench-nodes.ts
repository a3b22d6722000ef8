/** Trivial nodes for benchmarks: they cost as little as a node can, so what is measured is the engine. */
import { defineNode, stream, values } from "@conductor/sdk";
import { z } from "zod";

export const increment = defineNode({
  type: "bench.increment",
  input: { x: z.number() },
  output: { x: z.number() },
  flags: { deterministic: true },
  run: ({ x }) => ({ x: x + 1 }),
});

/**
 * The same increment flagged idempotent: a worker runs its job without first claiming its start in Redis
 * (docs/distributed.md), so the distributed bench shows what that claim costs.
 */
export const incrementIdempotent = defineNode({
  type: "bench.increment-idempotent",
  input: { x: z.number() },
  output: { x: z.number() },
  flags: { deterministic: true, idempotent: true },
  run: ({ x }) => ({ x: x + 1 }),
});

/**
 * The same increment declared neither deterministic nor idempotent, as a node with side effects is: a worker
 * claims its start in Redis before it runs it (docs/distributed.md), so the distributed bench shows that path too.
 */
export const incrementWithEffects = defineNode({
  type: "bench.increment-with-effects",
  input: { x: z.number() },
  output: { x: z.number() },
  run: ({ x }) => ({ x: x + 1 }),
});

export const sleep = defineNode({
  type: "bench.sleep",
  config: z.object({ ms: z.number() }),
  input: { x: z.number().optional() },
  output: { x: z.number() },
  run: ({ x }, ctx) =>
    new Promise<{ x: number }>((resolve) => setTimeout(() => resolve({ x: x ?? 0 }), ctx.config.ms)),
});

/**
 * A Set-like node (n8n's Set): passes an object on with one more field. Its ports are checked records, so an
 * engine that parsed every port would parse the same growing object twice per node.
 */
export const setField = defineNode({
  type: "bench.set-field",
  config: z.object({ name: z.string() }),
  input: { item: z.record(z.string(), z.unknown()) },
  output: { item: z.record(z.string(), z.unknown()) },
  flags: { deterministic: true },
  run: ({ item }, ctx) => ({ item: { ...item, [ctx.config.name]: ctx.config.name.length } }),
});

/** The same node with permissive ports (nothing to check): the floor `bench.set-field` is compared with. */
export const setFieldUnchecked = defineNode({
  type: "bench.set-field-unchecked",
  config: z.object({ name: z.string() }),
  input: { item: z.any() },
  output: { item: z.any() },
  flags: { deterministic: true },
  run: ({ item }, ctx) => ({ item: { ...(item as object), [ctx.config.name]: ctx.config.name.length } }),
});

export const benchNodes = [increment, sleep];

/** Reads a table in TypeScript and passes it on unchanged (the middle of the Python → TypeScript → Python test). */
export const tableRows = defineNode({
  type: "bench.table-rows",
  input: { table: values.table() },
  output: { table: values.table(), rows: z.number().int(), arrayBufferBytes: z.number() },
  // Reports the host's ArrayBuffer memory while the table is in hand: what the host holds at its peak.
  run: ({ table }) => ({ table, rows: table.numRows, arrayBufferBytes: process.memoryUsage().arrayBuffers }),
});

/** Produces the numbers 0..count-1 as a stream, as fast as its readers take them. */
export const streamNumbers = defineNode({
  type: "bench.stream-numbers",
  input: { count: z.number().int() },
  output: { items: stream(z.number()) },
  run: ({ count }) => ({
    items: (async function* () {
      for (let i = 0; i < count; i++) yield i;
    })(),
  }),
});

/** Reads a stream of numbers and gives how many it read and their sum. */
export const streamSum = defineNode({
  type: "bench.stream-sum",
  input: { items: stream(z.number()) },
  output: { count: z.number(), sum: z.number() },
  run: async ({ items }) => {
    let count = 0;
    let sum = 0;
    for await (const item of items) {
      count++;
      sum += item;
    }
    return { count, sum };
  },
});

export const allBenchNodes = [
  increment,
  incrementIdempotent,
  incrementWithEffects,
  sleep,
  tableRows,
  setField,
  setFieldUnchecked,
  streamNumbers,
  streamSum,
];
