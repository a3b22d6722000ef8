/**
 * Bytes inside a JSON value (docs/protocol.md §3.2, "Bytes inside JSON") cross every runtime as
 * `{"$bytes": "<base64>"}` and come back as the same bytes: a TypeScript node of the host gives an object holding a
 * Uint8Array, and the value goes through conformance.echo on the Node sidecar, Python and Rust in turn.
 */
import { type Conductor, createConductor } from "@conductor/host";
import { defineNode } from "@conductor/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { selectedRuntimes } from "./runtimes-under-test.js";

const children = selectedRuntimes().filter((runtime) => runtime.spec !== undefined);

const makeFile = defineNode({
  type: "test.make-file",
  output: { value: z.unknown() },
  run: () => ({
    value: {
      name: "a.bin",
      data: Uint8Array.from([0, 1, 254, 255]),
      parts: [new Uint8Array(0), Buffer.from("hi")],
      big: 123456789012345678901234567890n,
    },
  }),
});

describe("bytes inside JSON through every runtime", () => {
  let conductor: Conductor;

  beforeAll(async () => {
    conductor = await createConductor({
      builtinNodes: false,
      nodes: [makeFile],
      project: {
        dir: process.cwd(),
        blueprints: [],
        nodes: [],
        runtimes: Object.fromEntries(children.map((runtime) => [runtime.name, runtime.spec!])),
      },
    });
  }, 120_000);

  afterAll(async () => {
    await conductor?.close();
  });

  it("come back as the same bytes after conformance.echo on each runtime in turn", async () => {
    const nodes: Record<string, unknown> = { make: { type: "test.make-file" } };
    let from = "make.value";
    for (const runtime of children) {
      nodes[runtime.name] = {
        type: "conformance.echo",
        runtime: runtime.name,
        inputs: { value: { from } },
      };
      from = `${runtime.name}.value`;
    }
    const result = await conductor.run({
      conductor: "blueprint/v1",
      nodes,
      outputs: { value: from },
    } as never);
    expect(result.status).toBe("completed");
    const value = result.outputs.value as {
      name: string;
      data: Uint8Array;
      parts: Uint8Array[];
      big: bigint;
    };
    expect(value.name).toBe("a.bin");
    expect(value.data).toBeInstanceOf(Uint8Array);
    expect([...value.data]).toEqual([0, 1, 254, 255]);
    expect(value.parts.map((part) => [...part])).toEqual([[], [104, 105]]);
    expect(value.big).toBe(123456789012345678901234567890n);
  }, 120_000);
});
