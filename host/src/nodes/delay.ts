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
    await sleep(ctx.config.ms, ctx.signal);
    return { value: input.value };
  },
});

/**
 * Waits `ms`; the timer is cleared and the wait rejected when the signal fires, so a cancelled delay ends at once.
 * The platform's timers rather than node:timers/promises, because the node runs in a page's engine too.
 */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
