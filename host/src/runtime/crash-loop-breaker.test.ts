import { describe, expect, it } from "vitest";
import { createCrashLoopBreaker } from "./crash-loop-breaker.js";

function clock() {
  let now = 0;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("createCrashLoopBreaker()", () => {
  it("restarts with exponential backoff, then opens after maxCrashes crashes within the window", () => {
    const time = clock();
    const breaker = createCrashLoopBreaker({ maxCrashes: 3, crashWindowMs: 60_000, now: time.now });
    expect(breaker.crashed("exited with code 3")).toEqual({ kind: "restart", delayMs: 100 });
    expect(breaker.crashed("exited with code 3")).toEqual({ kind: "restart", delayMs: 200 });
    expect(breaker.crashed("exited with code 3")).toEqual({
      kind: "open",
      reason: "it crashed 3 times within 60 s (last: exited with code 3)",
      retryInMs: 30_000,
    });
  });

  it("forgets crashes older than the window", () => {
    const time = clock();
    const breaker = createCrashLoopBreaker({ maxCrashes: 2, crashWindowMs: 1_000, now: time.now });
    expect(breaker.crashed("a").kind).toBe("restart");
    time.advance(1_001);
    expect(breaker.crashed("b").kind).toBe("restart");
  });

  it("counts failed starts however long each took, so a runtime that never prints its handshake gives up", () => {
    const time = clock();
    const breaker = createCrashLoopBreaker({ maxCrashes: 3, crashWindowMs: 60_000, now: time.now });
    breaker.started();
    expect(breaker.crashed("exited with code 3").kind).toBe("restart");
    // Each failed start waited for a start timeout longer than the crash window.
    for (let i = 0; i < 2; i++) {
      time.advance(70_000);
      expect(breaker.startFailed("printed no handshake line within 20000 ms").kind).toBe("restart");
    }
    time.advance(70_000);
    expect(breaker.startFailed("printed no handshake line within 20000 ms")).toEqual({
      kind: "open",
      reason: "3 starts failed in a row (last: printed no handshake line within 20000 ms)",
      retryInMs: 30_000,
    });
  });

  it("lets one start through after the cool-down, doubling it when that start fails too", () => {
    const breaker = createCrashLoopBreaker({ coolDownMs: 1_000, maxCoolDownMs: 3_000 });
    expect(breaker.open("exited with code 1").retryInMs).toBe(1_000);
    breaker.halfOpen();
    expect(breaker.startFailed("exited with code 1")).toEqual({
      kind: "open",
      reason: "it still does not start after a cool-down (exited with code 1)",
      retryInMs: 2_000,
    });
    breaker.halfOpen();
    expect(breaker.startFailed("exited with code 1")).toMatchObject({ kind: "open", retryInMs: 3_000 });
  });

  it("closes when the half-open start succeeds: crashes, failed starts and the cool-down start afresh", () => {
    const breaker = createCrashLoopBreaker({ maxCrashes: 2, coolDownMs: 1_000 });
    breaker.started();
    breaker.crashed("a");
    expect(breaker.crashed("b")).toMatchObject({ kind: "open", retryInMs: 1_000 });
    breaker.halfOpen();
    breaker.started();
    expect(breaker.restarts).toBe(1);
    expect(breaker.crashed("c")).toEqual({ kind: "restart", delayMs: 100 });
    expect(breaker.crashed("d")).toMatchObject({ kind: "open", retryInMs: 1_000 });
  });
});
