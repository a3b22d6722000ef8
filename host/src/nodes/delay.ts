import { setTimeout as sleep } from "node:timers/promises";
import { defineNode } from "@conductor/sdk";
import { z } from "zod";

/** The longest delay a timer can hold (2^31 - 1 ms, about 24.8 days); Node fires longer ones at once. */
const MAX_DELAY_MS = 2_147_483_647;

/**
 * Waits, then passes its input on: for pacing calls to a rate-limited service, or for tests of timeouts and
 * cancellation. Not marked deterministic, because a cached result would skip the wait the blueprint asked for.
 */
export const delay = defineNode({
  type: "core.delay",
  title: "Delay",
  description: "Waits the configured number of milliseconds, then outputs its input value unchanged.",
  config: z.object({
    ms: z.number().min(0).max(MAX_DELAY_MS).describe("How long to wait, in milliseconds."),
  }),
  input: { value: z.unknown().optional().describe("A value to pass on after the wait.") },
  output: { value: z.unknown().optional().describe("The input value, unchanged.") },
  flags: { cancellable: true, idempotent: true },
  run: async (input, ctx) => {
    // The promise timer clears itself and rejects when the signal fires, so a cancelled delay ends at once.
    await sleep(ctx.config.ms, undefined, { signal: ctx.signal });
    return { value: input.value };
  },
});
