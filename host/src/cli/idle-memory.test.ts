import { getHeapStatistics } from "node:v8";
import { afterEach, describe, expect, it, vi } from "vitest";
import { eventLoopBusyness, releaseMemory, releaseMemoryWhenIdle } from "./idle-memory.js";

/** Makes `megabytes` of short-lived garbage in small pieces, as a burst of requests does. */
function churn(megabytes: number): number {
  let kept = 0;
  for (let i = 0; i < megabytes * 16; i++) {
    const piece = new Array(8_192).fill(i);
    kept += piece.length;
  }
  return kept;
}

describe("releaseMemory", () => {
  it("shrinks the heap that garbage grew, keeping what is live", () => {
    const live = Array.from({ length: 50_000 }, (_, i) => ({ i }));
    churn(200);
    const before = getHeapStatistics().total_heap_size;
    releaseMemory();
    const after = getHeapStatistics().total_heap_size;
    expect(after).toBeLessThan(before);
    expect(live[49_999]!.i).toBe(49_999);
  });
});

describe("releaseMemoryWhenIdle", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("releases once each time the loop turns idle after being busy, never while busy", () => {
    vi.useFakeTimers();
    // What the loop's utilization is at each check, scripted: busy, busy, idle, idle, idle, busy, idle.
    const script = [0.5, 0.2, 0, 0.005, 0, 0.9, 0];
    const releasesAfterEachCheck: number[] = [];
    let releases = 0;
    const stop = releaseMemoryWhenIdle(
      100,
      () => {
        releases++;
      },
      () => script[releasesAfterEachCheck.length] ?? 0,
    );
    try {
      for (let check = 0; check < script.length; check++) {
        vi.advanceTimersByTime(100);
        releasesAfterEachCheck.push(releases);
      }
      // Not while busy; once at the first idle check after a busy period; not again while it stays idle.
      expect(releasesAfterEachCheck).toEqual([0, 0, 1, 1, 1, 1, 2]);
    } finally {
      stop();
    }
  });

  it("measures the event loop's utilization between checks", async () => {
    const busyness = eventLoopBusyness();
    const end = performance.now() + 50;
    while (performance.now() < end) churn(1);
    expect(busyness()).toBeGreaterThan(0.5);
  });
});
