import { describe, expect, it } from "vitest";
import { passthrough } from "./passthrough.js";
import { outputsOf, runNode, runtimeFor } from "./testing/run-node.js";

describe("core.passthrough", () => {
  it("outputs its input unchanged, bytes included", async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    expect(outputsOf(await runNode(passthrough, { inputs: { value: { a: [1, "two"] } } }))).toEqual({
      value: { a: [1, "two"] },
    });
    expect(outputsOf(await runNode(passthrough, { inputs: { value: bytes } })).value).toBe(bytes);
  });

  it("fails when its input is missing, naming the port", async () => {
    const run = await runNode(passthrough, { inputs: {} });
    expect(run.failure).toMatchObject({
      type: "input.invalid",
      retryable: false,
      message: 'node "subject" (core.passthrough): input "value": expected a value, found nothing',
    });
  });

  it("declares its input port as required", () => {
    const type = runtimeFor(passthrough).nodeTypes[0]!;
    expect(type.inputs.map((port) => [port.name, port.required])).toEqual([["value", true]]);
    expect(type.flags?.deterministic).toBe(true);
  });
});
