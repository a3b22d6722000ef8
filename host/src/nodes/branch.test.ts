import { describe, expect, it } from "vitest";
import { branch } from "./branch.js";
import { outputsOf, runNode, runtimeFor } from "./testing/run-node.js";

describe("core.if", () => {
  it("sends the value to true when the condition holds and to false otherwise", async () => {
    expect(
      outputsOf(
        await runNode(branch, {
          inputs: { value: { total: 150 } },
          config: { condition: "value.total > 100" },
        }),
      ),
    ).toEqual({
      true: { total: 150 },
    });
    expect(
      outputsOf(await runNode(branch, { inputs: { value: 3 }, config: { condition: "value > 10" } })),
    ).toEqual({ false: 3 });
  });

  it("names its real ports in its description", () => {
    const quoted = [...branch.description.matchAll(/"(\w+)"/g)].map((match) => match[1]);
    expect(quoted).toEqual(["value", "true", "false"]);
    expect(Object.keys(branch.inputSchema.shape)).toEqual(["value"]);
    expect(Object.keys(branch.outputSchema.shape)).toEqual(["true", "false"]);
  });

  it("rejects a condition that is not valid JSONata at config validation", () => {
    expect(
      runtimeFor(branch)
        .validateConfig("core.if", { condition: "value >" })
        .map((d) => d.path),
    ).toEqual(["condition"]);
  });
});
