import { describe, expect, it } from "vitest";
import { retryDelay } from "./retry-policy.js";

const policy = { maxAttempts: 4, initialDelayMs: 100, backoffCoefficient: 2, maxDelayMs: 300, jitter: false };
const retryable = { message: "flaky", type: "x", retryable: true };

describe("retryDelay()", () => {
  it("backs off exponentially up to the cap, then stops after the last attempt", () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelay(policy, attempt, retryable, false))).toEqual([
      100,
      200,
      300,
      undefined,
    ]);
  });

  it("never retries a non-retryable failure or without a policy", () => {
    expect(retryDelay(policy, 1, { ...retryable, retryable: false }, true)).toBeUndefined();
    expect(retryDelay(undefined, 1, retryable, true)).toBeUndefined();
  });

  it("retries a lost runtime only for idempotent node types", () => {
    const lost = { message: "gone", type: "runtime.lost", retryable: true };
    expect(retryDelay(policy, 1, lost, false)).toBeUndefined();
    expect(retryDelay(policy, 1, lost, true)).toBe(100);
  });

  it("honours a longer delay the failure suggests", () => {
    expect(retryDelay(policy, 1, { ...retryable, retryDelayMs: 5_000 }, false)).toBe(5_000);
  });

  it("jitters by up to 20 % either way", () => {
    const jittery = { ...policy, jitter: true };
    expect(retryDelay(jittery, 1, retryable, false, () => 0)).toBe(80);
    expect(retryDelay(jittery, 1, retryable, false, () => 1)).toBe(120);
  });
});
