/**
 * Stream nodes for streaming-resume.test.ts, loaded by a project in a temporary directory: each appends a line to
 * a side-effect file every time it runs, so the test sees which nodes ran again after the host was killed.
 */
import { appendFileSync } from "node:fs";
import { defineNode, stream } from "@conductor/sdk";
import { z } from "zod";

const effects = z.object({ file: z.string() });

/** Yields 0 … n-1. */
export const numbers = defineNode({
  type: "sr.numbers",
  config: effects,
  input: { n: z.number().int().min(0) },
  output: { items: stream(z.number().int()) },
  run: ({ n }, ctx) => {
    appendFileSync(ctx.config.file, `${ctx.nodeId} attempt ${ctx.attempt}\n`);
    return {
      items: (async function* () {
        for (let i = 0; i < n; i++) yield i;
      })(),
    };
  },
});

/**
 * Adds the items of a stream; having read them all, on its first attempt with `hangMs` > 0 it waits that long (for
 * the test to kill the host) before it completes.
 */
export const sum = defineNode({
  type: "sr.sum",
  config: effects,
  input: { items: stream(z.number()), hangMs: z.number().int().default(0) },
  output: { sum: z.number(), count: z.number().int() },
  flags: { cancellable: true },
  run: async ({ items, hangMs }, ctx) => {
    appendFileSync(ctx.config.file, `${ctx.nodeId} attempt ${ctx.attempt}\n`);
    let total = 0;
    let count = 0;
    for await (const item of items) {
      total += item;
      count++;
    }
    if (ctx.attempt === 1 && hangMs > 0) {
      appendFileSync(ctx.config.file, `${ctx.nodeId} read ${count} and waits\n`);
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, hangMs);
        ctx.signal.addEventListener("abort", () => clearTimeout(timer));
      });
    }
    return { sum: total, count };
  },
});
