import { describe, expect, it } from "vitest";
import { add } from "./add.js";
import { outputsOf, runNode } from "./testing/run-node.js";

describe("core.add", () => {
  it("adds two numbers", async () => {
    expect(outputsOf(await runNode(add, { inputs: { a: 2, b: 40 } }))).toEqual({ sum: 42 });
    expect(outputsOf(await runNode(add, { inputs: { a: -1.5, b: 0.25 } }))).toEqual({ sum: -1.25 });
  });

  it("fails on an input that is not a number, naming the port", async () => {
    const run = await runNode(add, { inputs: { a: "2", b: 1 } });
    expect(run.failure?.message).toBe(
      'node "subject" (core.add): input "a": expected number, found string "2"',
    );
  });
});
