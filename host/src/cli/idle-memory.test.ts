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
  it("releases once each time the loop turns idle after being busy, never while busy", async () => {
    let releases = 0;
    const stop = releaseMemoryWhenIdle(100, () => {
      releases++;
    });
    const until = async (condition: () => boolean) => {
      for (let i = 0; i < 60 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 50));
    };
    const busyFor = (ms: number) => {
      const end = performance.now() + ms;
      while (performance.now() < end) churn(1);
    };
    try {
      // Settle first (loading the test may count as a busy start, and the release that follows it).
      await new Promise((resolve) => setTimeout(resolve, 400));
      const settled = releases;
      busyFor(150);
      await until(() => releases > settled);
      expect(releases).toBe(settled + 1);
      // Staying idle does not release again; the next busy period does, once.
      await new Promise((resolve) => setTimeout(resolve, 350));
      expect(releases).toBe(settled + 1);
      busyFor(150);
      await until(() => releases > settled + 1);
      expect(releases).toBe(settled + 2);
    } finally {
      stop();
    }
  });
});
