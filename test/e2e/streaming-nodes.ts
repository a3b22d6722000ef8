/**
 * Stream nodes served by the Node sidecar in streaming-sidecar.test.ts. They run in a child process, so what they
 * did is written to a trace file the test reads: one line per event, in order.
 */
import { appendFileSync } from "node:fs";
import { checkpoint, defineNode, NodeFailure, stream } from "@conductor/sdk";
import { z } from "zod";

const note = (file: string | undefined, line: string) => {
  if (file !== undefined) appendFileSync(file, `${line}\n`);
};

/** Yields 0..n-1 lazily, noting each item it generates and its end; fails at `failAt` when asked. */
export const numbers = defineNode({
  type: "sx.numbers",
  input: { n: z.number().int().min(0) },
  config: z.object({
    trace: z.string().optional(),
    failAt: z.number().int().optional(),
    /** Fail at `failAt` only in attempts up to this one, with a retryable failure. */
    failUntilAttempt: z.number().int().optional(),
  }),
  output: { items: stream(z.number().int()), total: z.number().int() },
  run: ({ n }, ctx) => ({
    total: n,
    items: (async function* () {
      const until = ctx.config.failUntilAttempt;
      try {
        for (let i = 0; i < n; i++) {
          if (i === ctx.config.failAt && until === undefined)
            throw new NodeFailure(`boom at ${i}`, { type: "test.boom", retryable: false });
          if (i === ctx.config.failAt && until !== undefined && ctx.attempt <= until) {
            note(ctx.config.trace, `attempt ${ctx.attempt} fails at ${i}`);
            throw new NodeFailure(`boom at ${i}`, { type: "test.boom", retryable: true });
          }
          note(ctx.config.trace, `generate ${i}`);
          yield i;
        }
        note(ctx.config.trace, "producer done");
      } finally {
        note(ctx.config.trace, "producer finally");
      }
    })(),
  }),
});

/** Reads a stream of numbers to its end (or `limit` items), noting each; fails after `failAfter` items. */
export const total = defineNode({
  type: "sx.total",
  input: { items: stream(z.number()), limit: z.number().int().optional() },
  config: z.object({ trace: z.string().optional(), failAfter: z.number().int().optional() }),
  output: { sum: z.number(), count: z.number().int(), seen: z.array(z.number()) },
  run: async ({ items, limit }, ctx) => {
    const seen: number[] = [];
    note(ctx.config.trace, "consumer starts");
    for await (const item of items) {
      seen.push(item);
      note(ctx.config.trace, `consume ${item}`);
      if (seen.length === ctx.config.failAfter)
        throw new NodeFailure(`consumer gave up after ${seen.length}`, { type: "test.gave-up" });
      if (limit !== undefined && seen.length >= limit) break;
    }
    return { sum: seen.reduce((a, b) => a + b, 0), count: seen.length, seen };
  },
});

/**
 * Yields 0 … n-1 with a checkpoint after every `every` items (its state: the next item); attempt k fails,
 * retryably, when about to yield `failAt[k-1]`. Notes where each attempt starts and each item it generates.
 */
export const checkpointed = defineNode({
  type: "sx.checkpointed",
  input: { n: z.number().int().min(0) },
  config: z.object({ trace: z.string(), every: z.number().int().min(1), failAt: z.array(z.number().int()) }),
  output: { items: stream(z.number().int()) },
  run: ({ n }, ctx) => {
    const resume = ctx.resume?.items;
    note(
      ctx.config.trace,
      `attempt ${ctx.attempt} starts at ${resume === undefined ? 0 : `${String(resume.state)} (offset ${resume.offset})`}`,
    );
    return {
      items: (async function* () {
        for (let i = (resume?.state as number | undefined) ?? 0; i < n; i++) {
          if (ctx.config.failAt[ctx.attempt - 1] === i) {
            note(ctx.config.trace, `attempt ${ctx.attempt} fails at ${i}`);
            throw new NodeFailure(`boom at ${i}`, { type: "test.boom", retryable: true });
          }
          yield i;
          if ((i + 1) % ctx.config.every === 0) yield checkpoint(i + 1);
        }
      })(),
    };
  },
});
