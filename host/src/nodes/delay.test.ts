import { describe, expect, it } from "vitest";
import { delay } from "./delay.js";
import { outputsOf, runNode, runtimeFor, startNode } from "./testing/run-node.js";

describe("core.delay", () => {
  it("waits, then passes its value on", async () => {
    const startedAt = performance.now();
    const run = await runNode(delay, { config: { ms: 50 }, inputs: { value: { id: 7 } } });
    expect(outputsOf(run)).toEqual({ value: { id: 7 } });
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(45);
  });

  it("ends at once when cancelled", async () => {
    const { control, done } = startNode(delay, { config: { ms: 60_000 } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const cancelledAt = performance.now();
    control.cancel("user asked");
    const run = await done;
    expect(run.events).toEqual(["started", "cancelled"]);
    expect(run.cancelled).toBe("user asked");
    expect(performance.now() - cancelledAt).toBeLessThan(500);
  });

  it("rejects a negative delay in its config", () => {
    const diagnostics = runtimeFor(delay).validateConfig("core.delay", { ms: -1 });
    expect(diagnostics.map((d) => [d.path, d.found])).toEqual([["ms", "number -1"]]);
  });
});
