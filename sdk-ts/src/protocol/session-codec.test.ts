import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  BlobRef_Encoding,
  SessionRequestSchema,
  SessionResponseSchema,
} from "../gen/conductor/runtime/v1/runtime_pb.js";
import type { FailureInfo } from "./failure.js";
import type { InvocationRequest, InvocationSink } from "./invocation.js";
import {
  decodeSessionRequest,
  dispatchSessionResponse,
  SessionRequestWriter,
  SessionResponseWriter,
} from "./session-codec.js";
import { EncodedValue, encodeJsonValue } from "./value-codec.js";

const blobs = { inlineLimit: 1 << 20 };

const request: InvocationRequest = {
  invocationId: 9_000_000_001,
  executionId: "exec-1",
  steps: [
    {
      nodeId: "first",
      nodeType: "test.add",
      attempt: 2,
      config: { offset: 10, label: "héllo" },
      inputs: { a: { value: 1 }, b: { value: new Uint8Array([1, 2, 3]) } },
      timeoutMs: 500,
    },
    {
      nodeId: "second",
      nodeType: "test.add",
      attempt: 1,
      config: new EncodedValue(encodeJsonValue({})),
      inputs: {
        a: { step: 0, port: "sum" },
        big: {
          value: new EncodedValue(
            create((await import("../gen/conductor/runtime/v1/runtime_pb.js")).ValueSchema, {
              kind: {
                case: "blob",
                value: { uri: "file:///tmp/x", size: 123n, sha256: "ab", encoding: BlobRef_Encoding.ARROW },
              },
            }),
          ),
        },
      },
      timeoutMs: 0,
    },
  ],
};

describe("the session codec", () => {
  it("encodes a SessionRequest that protobuf-es decodes to the same commands", () => {
    const writer = new SessionRequestWriter(blobs);
    writer.execute(request);
    writer.cancel(7, "user asked", 2000);
    const decoded = fromBinary(SessionRequestSchema, writer.finish());
    expect(decoded.commands).toHaveLength(2);
    const execute = decoded.commands[0]!.kind;
    expect(execute.case).toBe("execute");
    if (execute.case !== "execute") return;
    expect(execute.value.invocationId).toBe(9_000_000_001n);
    expect(execute.value.executionId).toBe("exec-1");
    const [first, second] = execute.value.steps;
    expect(first).toMatchObject({ nodeId: "first", nodeType: "test.add", attempt: 2, timeoutMs: 500 });
    expect(new TextDecoder().decode(first!.config!.kind.value as Uint8Array)).toBe(
      '{"offset":10,"label":"héllo"}',
    );
    expect(first!.inputs.b!.source).toMatchObject({
      case: "value",
      value: { kind: { case: "raw", value: new Uint8Array([1, 2, 3]) } },
    });
    expect(second!.inputs.a!.source).toMatchObject({ case: "stepOutput", value: { step: 0, port: "sum" } });
    expect(second!.inputs.big!.source).toMatchObject({
      case: "value",
      value: {
        kind: {
          case: "blob",
          value: { uri: "file:///tmp/x", size: 123n, sha256: "ab", encoding: BlobRef_Encoding.ARROW },
        },
      },
    });
    expect(decoded.commands[1]!.kind).toMatchObject({
      case: "cancel",
      value: { invocationId: 7n, reason: "user asked", graceMs: 2000 },
    });
  });

  it("decodes what protobuf-es encodes, and round-trips its own encoding", () => {
    const writer = new SessionRequestWriter(blobs);
    writer.execute(request);
    const ours = writer.finish();
    const theirs = toBinary(SessionRequestSchema, fromBinary(SessionRequestSchema, ours));
    for (const bytes of [ours, theirs]) {
      const [command] = decodeSessionRequest(bytes);
      expect(command!.kind).toBe("execute");
      if (command?.kind !== "execute") return;
      const decoded = command.request;
      expect(decoded.invocationId).toBe(9_000_000_001);
      expect(decoded.steps[1]!.inputs.a).toEqual({ step: 0, port: "sum" });
      const b = decoded.steps[0]!.inputs.b as { value: EncodedValue };
      expect(b.value.wire.kind).toEqual({ case: "raw", value: new Uint8Array([1, 2, 3]) });
    }
  });

  it("encodes events that protobuf-es decodes, and dispatches them back to a sink in order", () => {
    const writer = new SessionResponseWriter(blobs);
    const ended: boolean[] = [];
    const sink = writer.sink(42, (terminal) => ended.push(terminal));
    const failure: FailureInfo = {
      message: "boom",
      type: "test.boom",
      retryable: true,
      details: { code: 7 },
      retryDelayMs: 50,
    };
    sink.started(0);
    sink.log(0, "warn", "careful", { n: 1 });
    sink.progress(0, 0.5, "half");
    sink.chunk(0, "items", 3);
    sink.heartbeat(0, undefined);
    sink.completed(0, { sum: 3, raw: new Uint8Array([9]) }, 1234);
    sink.failed(1, failure, 10);
    writer.sink(43, () => {}).cancelled(2, "stop");
    writer.sink(44, () => {}).rejected({ message: "unknown", type: "node-type.unknown", retryable: false });
    expect(ended).toEqual([false, false, false, false, false, true, true]);
    const bytes = writer.finish();

    const decoded = fromBinary(SessionResponseSchema, bytes);
    expect(decoded.events.map((e) => [Number(e.invocationId), e.step, e.kind.case])).toEqual([
      [42, 0, "started"],
      [42, 0, "log"],
      [42, 0, "progress"],
      [42, 0, "chunk"],
      [42, 0, "heartbeat"],
      [42, 0, "completed"],
      [42, 1, "failed"],
      [43, 2, "cancelled"],
      [44, 0, "rejected"],
    ]);

    const calls: unknown[][] = [];
    const recording = (id: number): InvocationSink => ({
      started: (step) => calls.push([id, "started", step]),
      log: (step, level, message, fields) => calls.push([id, "log", step, level, message, fields]),
      progress: (step, fraction, message) => calls.push([id, "progress", step, fraction, message]),
      chunk: (step, port, value) =>
        calls.push([id, "chunk", step, port, (value as EncodedValue).wire.kind.case]),
      heartbeat: (step, details) => calls.push([id, "heartbeat", step, details]),
      completed: (step, outputs, durationUs) =>
        calls.push([id, "completed", step, Object.keys(outputs), durationUs]),
      failed: (step, info, durationUs) => calls.push([id, "failed", step, info, durationUs]),
      cancelled: (step, reason) => calls.push([id, "cancelled", step, reason]),
      rejected: (info) => calls.push([id, "rejected", info.type]),
    });
    // Re-encoded by protobuf-es, the bytes still dispatch the same calls.
    for (const input of [bytes, toBinary(SessionResponseSchema, decoded)]) {
      calls.length = 0;
      dispatchSessionResponse(input, (id) => (id === 99 ? undefined : recording(id)));
      expect(calls).toEqual([
        [42, "started", 0],
        [42, "log", 0, "warn", "careful", { n: 1 }],
        [42, "progress", 0, 0.5, "half"],
        [42, "chunk", 0, "items", "json"],
        [42, "heartbeat", 0, undefined],
        [42, "completed", 0, ["sum", "raw"], 1234],
        [
          42,
          "failed",
          1,
          { message: "boom", type: "test.boom", retryable: true, details: { code: 7 }, retryDelayMs: 50 },
          10,
        ],
        [43, "cancelled", 2, "stop"],
        [44, "rejected", "node-type.unknown"],
      ]);
    }
  });
});
