import type { FailureInfo } from "@conductor/sdk/protocol";
import type { RetryPolicy } from "../blueprint/blueprint-graph.js";

/**
 * Decides whether a failed attempt is tried again and after how long: only retryable failures, only while
 * attempts remain, a lost runtime only for idempotent node types (the node may have run to completion before the
 * runtime died), exponential backoff with jitter, capped, and never sooner than the delay the failure suggests.
 * Gives the delay in milliseconds, or undefined for no retry.
 */
export function retryDelay(
  policy: RetryPolicy | undefined,
  attempt: number,
  failure: FailureInfo,
  idempotent: boolean,
  random: () => number = Math.random,
): number | undefined {
  if (policy === undefined || !failure.retryable || attempt >= policy.maxAttempts) return undefined;
  if (failure.type === "runtime.lost" && !idempotent) return undefined;
  const exponential = policy.initialDelayMs * policy.backoffCoefficient ** (attempt - 1);
  const jittered = policy.jitter ? exponential * (0.8 + 0.4 * random()) : exponential;
  const capped = Math.min(policy.maxDelayMs, jittered);
  return Math.round(Math.max(capped, failure.retryDelayMs ?? 0));
}
