import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { SessionRequestSchema } from "@conductor/sdk/protocol";
import { describe, expect, it } from "vitest";
import { encodeReordered, UNKNOWN_FIELD_NUMBERS } from "./reordered-encoding.js";

const json = (text: string) => ({ kind: { case: "json" as const, value: new TextEncoder().encode(text) } });

const request = create(SessionRequestSchema, {
  commands: [
    {
      kind: {
        case: "execute",
        value: {
          invocationId: 7n,
          executionId: "e1",
          steps: [
            {
              nodeId: "first",
              nodeType: "conformance.add",
              attempt: 1,
              config: json("{}"),
              inputs: { a: { source: { case: "value", value: json("1") } } },
            },
            { nodeId: "second", nodeType: "conformance.add", attempt: 1 },
          ],
        },
      },
    },
    { kind: { case: "cancel", value: { invocationId: 7n, reason: "stop", graceMs: 100 } } },
  ],
});

/** The field numbers of a message's bytes, in the order they were written, and the bytes of each. */
function fields(bytes: Uint8Array): { number: number; value: Uint8Array }[] {
  const reader = new BinaryReader(bytes);
  const found: { number: number; value: Uint8Array }[] = [];
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    found.push({
      number,
      value: wireType === WireType.LengthDelimited ? reader.bytes() : reader.skip(wireType, number),
    });
  }
  return found;
}

describe("encodeReordered()", () => {
  it("writes every message's fields from the highest number down, and protobuf-es reads the same message", () => {
    const bytes = encodeReordered(SessionRequestSchema, request, { reverse: true });
    expect(bytes).not.toEqual(toBinary(SessionRequestSchema, request));
    expect(fromBinary(SessionRequestSchema, bytes)).toEqual(request);

    const [execute] = fields(bytes);
    const executeFields = fields(fields(execute!.value)[0]!.value);
    expect(executeFields.map((field) => field.number)).toEqual([3, 3, 2, 1]);
    const step = fields(executeFields[0]!.value);
    expect(step.map((field) => field.number)).toEqual([5, 4, 3, 2, 1]);
    // A map entry: the value (2) before the key (1).
    expect(fields(step[0]!.value).map((field) => field.number)).toEqual([2, 1]);
  });

  it("keeps the elements of a repeated field in their order", () => {
    const bytes = encodeReordered(SessionRequestSchema, request, { reverse: true });
    const decoded = fromBinary(SessionRequestSchema, bytes);
    expect(decoded.commands.map((command) => command.kind.case)).toEqual(["execute", "cancel"]);
    const execute = decoded.commands[0]!.kind.value as { steps: { nodeId: string }[] };
    expect(execute.steps.map((step) => step.nodeId)).toEqual(["first", "second"]);
  });

  it("puts unknown fields first in every message but map entries, which protobuf-es skips", () => {
    const bytes = encodeReordered(SessionRequestSchema, request, { unknownFields: true });
    expect(fromBinary(SessionRequestSchema, bytes, { readUnknownFields: false })).toEqual(request);

    const top = fields(bytes);
    expect(top.slice(0, 2).map((field) => field.number)).toEqual([...UNKNOWN_FIELD_NUMBERS]);
    const command = fields(top[2]!.value);
    const execute = fields(command[2]!.value);
    expect(execute.slice(0, 2).map((field) => field.number)).toEqual([...UNKNOWN_FIELD_NUMBERS]);
    const step = fields(execute.find((field) => field.number === 3)!.value);
    const mapEntry = step.find((field) => field.number === 5)!;
    expect(fields(mapEntry.value).map((field) => field.number)).toEqual([1, 2]);
  });
});
