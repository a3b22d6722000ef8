import { describe, expect, it } from "vitest";
import { constant } from "./constant.js";
import { outputsOf, runNode, runtimeFor } from "./testing/run-node.js";

describe("core.constant", () => {
  it("outputs the value of its config", async () => {
    const value = { name: "north", sales: [1, 2.5], active: true, note: null };
    const run = await runNode(constant, { config: { value } });
    expect(outputsOf(run)).toEqual({ value });
  });

  it("rejects a config without a value", () => {
    const diagnostics = runtimeFor(constant).validateConfig("core.constant", {});
    expect(diagnostics.map((d) => d.path)).toEqual(["value"]);
  });

  it("is deterministic", () => {
    expect(runtimeFor(constant).nodeTypes[0]!.flags?.deterministic).toBe(true);
  });
});
