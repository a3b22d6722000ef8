import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { afterAll, describe, expect, it } from "vitest";
import { BlobRef_Encoding, SessionRequestSchema } from "../gen/conductor/runtime/v1/runtime_pb.js";
import { SessionRequestWriter } from "./session-request-codec.js";
import { EncodedValue, encodeValue, writeBlob } from "./value-codec.js";
import { receiverFeatures, valueForReceiver } from "./value-features.js";

const dir = mkdtempSync(join(tmpdir(), "value-features-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const blob = (bytes: Uint8Array, encoding: BlobRef_Encoding) =>
  ({
    $typeName: "conductor.runtime.v1.Value",
    kind: { case: "blob", value: writeBlob(dir, bytes, encoding) },
  }) as const;

describe("valueForReceiver()", () => {
  const all = receiverFeatures("python", ["session.steps", "values.arrow", "values.blob"], 1 << 20);
  const none = receiverFeatures("go", ["session.steps"], 1 << 20);

  it("sends every value as it is to a runtime that announced both features", () => {
    const value = blob(new TextEncoder().encode('{"a":1}'), BlobRef_Encoding.JSON);
    expect(valueForReceiver(value, all, "input")).toBe(value);
  });

  it("inlines a blob's bytes, with their encoding, for a runtime without values.blob", () => {
    const json = valueForReceiver(
      blob(new TextEncoder().encode('{"a":1}'), BlobRef_Encoding.JSON),
      none,
      "input",
    );
    expect(json.kind.case).toBe("json");
    expect(new TextDecoder().decode(json.kind.value as Uint8Array)).toBe('{"a":1}');
    expect(
      valueForReceiver(blob(new Uint8Array([0, 255]), BlobRef_Encoding.RAW), none, "input").kind,
    ).toEqual({
      case: "raw",
      value: new Uint8Array([0, 255]),
    });
  });

  it("refuses a blob larger than the runtime's message limit when it cannot read blobs", () => {
    const small = receiverFeatures("go", [], 4);
    expect(() =>
      valueForReceiver(
        blob(new Uint8Array(5), BlobRef_Encoding.RAW),
        small,
        'input "data" of node "n" (go.hash)',
      ),
    ).toThrow(
      'input "data" of node "n" (go.hash) has 5 bytes, more than the 4 runtime "go" takes in one message, and the runtime did not announce "values.blob" in its handshake, so it cannot take it as a blob; pass a smaller value, or upgrade the runtime to read blobs',
    );
  });

  it("refuses an Arrow table, inline or as a blob, for a runtime without values.arrow", () => {
    const message =
      'input "table" of node "n" (go.sum) is an Arrow table, but runtime "go" did not announce "values.arrow" in its handshake and cannot read one; give the node JSON or bytes instead (convert the table before it), or serve the node from a runtime that reads Arrow';
    const arrow = {
      $typeName: "conductor.runtime.v1.Value",
      kind: { case: "arrow", value: new Uint8Array([1]) },
    } as const;
    expect(() => valueForReceiver(arrow, none, 'input "table" of node "n" (go.sum)')).toThrow(message);
    expect(() =>
      valueForReceiver(
        blob(new Uint8Array([1]), BlobRef_Encoding.ARROW),
        none,
        'input "table" of node "n" (go.sum)',
      ),
    ).toThrow(message);
  });
});

describe("SessionRequestWriter, for a runtime without values.blob", () => {
  it("writes a blob input inline and adds nothing when an input is refused", () => {
    const writer = new SessionRequestWriter({ inlineLimit: 4 }, receiverFeatures("go", [], 1 << 20));
    const big = new Uint8Array(64).fill(7);
    writer.execute({
      invocationId: 1,
      executionId: "e",
      steps: [
        {
          nodeId: "n",
          nodeType: "go.hash",
          attempt: 1,
          config: {},
          inputs: {
            data: { value: new EncodedValue(blob(big, BlobRef_Encoding.RAW)) },
            small: { value: big },
          },
          timeoutMs: 0,
        },
      ],
    });
    expect(() =>
      writer.execute({
        invocationId: 2,
        executionId: "e",
        steps: [
          {
            nodeId: "m",
            nodeType: "go.sum",
            attempt: 1,
            config: {},
            inputs: {
              table: { value: new EncodedValue(encodeValue(new Uint8Array(1))) },
              t: {
                value: new EncodedValue({
                  $typeName: "conductor.runtime.v1.Value",
                  kind: { case: "arrow", value: new Uint8Array([1]) },
                }),
              },
            },
            timeoutMs: 0,
          },
        ],
      }),
    ).toThrow(/is an Arrow table/);
    const decoded = fromBinary(SessionRequestSchema, writer.finish());
    expect(decoded.commands).toHaveLength(1);
    const execute = decoded.commands[0]!.kind;
    if (execute.case !== "execute") throw new Error(`expected execute, found ${execute.case}`);
    const inputs = execute.value.steps[0]!.inputs;
    expect(inputs.data!.source).toMatchObject({
      case: "value",
      value: { kind: { case: "raw", value: big } },
    });
    expect(inputs.small!.source).toMatchObject({
      case: "value",
      value: { kind: { case: "raw", value: big } },
    });
  });
});
