import { getHeapStatistics } from "node:v8";
import { describe, expect, it } from "vitest";
import { releaseMemory, releaseMemoryWhenIdle } from "./idle-memory.js";

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
  it("releases once the loop turns idle after being busy", async () => {
    const stop = releaseMemoryWhenIdle(100);
    try {
      // Busy for one interval, then idle for the next ones.
      const busyUntil = performance.now() + 150;
      while (performance.now() < busyUntil) churn(8);
      const grown = getHeapStatistics().total_heap_size;
      await new Promise((resolve) => setTimeout(resolve, 450));
      expect(getHeapStatistics().total_heap_size).toBeLessThan(grown);
    } finally {
      stop();
    }
  });
});
