import { describe, expect, it, vi } from "vitest";
import { delay } from "./delay.js";
import { outputsOf, runtimeFor, startNode } from "./testing/run-node.js";

describe("core.delay", () => {
  it("waits, then passes its value on", async () => {
    vi.useFakeTimers();
    try {
      const { run, done } = startNode(delay, { config: { ms: 50 }, inputs: { value: { id: 7 } } });
      await vi.advanceTimersByTimeAsync(49);
      expect(run.events).toEqual(["started"]);
      await vi.advanceTimersByTimeAsync(1);
      expect(outputsOf(await done)).toEqual({ value: { id: 7 } });
    } finally {
      vi.useRealTimers();
    }
  });

  it("ends at once when cancelled", async () => {
    const { control, done } = startNode(delay, { config: { ms: 60_000 } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    control.cancel("user asked");
    // The delay is a minute, past the test's time limit: the run ends only because the cancel ended it.
    const run = await done;
    expect(run.events).toEqual(["started", "cancelled"]);
    expect(run.cancelled).toBe("user asked");
  });

  it("rejects a negative delay in its config", () => {
    const diagnostics = runtimeFor(delay).validateConfig("core.delay", { ms: -1 });
    expect(diagnostics.map((d) => [d.path, d.found])).toEqual([["ms", "number -1"]]);
  });
});
