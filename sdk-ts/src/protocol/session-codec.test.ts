import { create, type DescMessage, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BlobRef_Encoding,
  type EventSchema,
  type Failure,
  FailureSchema,
  Log_Level,
  type SessionRequest,
  SessionRequestSchema,
  type SessionResponse,
  SessionResponseSchema,
  type Value,
  ValueSchema,
} from "../gen/conductor/runtime/v1/runtime_pb.js";
import { type FailureInfo, failureFromWire } from "./failure.js";
import type { InvocationRequest, InvocationSink, LogLevel, StepInput } from "./invocation.js";
import { parseJsonText } from "./json-text.js";
import { decodeSessionRequest, type SessionCommand, SessionRequestWriter } from "./session-request-codec.js";
import { dispatchSessionResponse, SessionResponseWriter } from "./session-response-codec.js";
import { decodeValue, EncodedValue, encodeJsonValue, encodeValue } from "./value-codec.js";

const blobs = { inlineLimit: 1 << 20 };
const RUNS = 300;

// ------------------------------------------------------------------ field order and unknown fields

/** A small deterministic generator, so that a shuffle is reproduced by the fast-check seed that drew it. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Re-encodes a message with its fields in a random order at every level (keeping the order among the
 * occurrences of one repeated field, which carries meaning) and random unknown fields inserted: bytes any
 * conforming protobuf encoder may produce for the same message.
 */
function shuffleFields(schema: DescMessage, bytes: Uint8Array, next: () => number): Uint8Array {
  const reader = new BinaryReader(bytes);
  const byField = new Map<number, Uint8Array[]>();
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    const field = schema.fields.find((candidate) => candidate.number === number);
    const writer = new BinaryWriter();
    if (wireType === WireType.LengthDelimited) {
      let payload = reader.bytes();
      if (field?.fieldKind === "message" || (field?.fieldKind === "list" && field.listKind === "message")) {
        payload = shuffleFields(field.message!, payload, next);
      } else if (field?.fieldKind === "map") {
        payload = shuffleMapEntry(field.mapKind === "message" ? field.message : undefined, payload, next);
      }
      writer.tag(number, wireType).bytes(payload);
    } else {
      const start = reader.pos;
      reader.skip(wireType, number);
      writer.tag(number, wireType).raw(bytes.subarray(start, reader.pos));
    }
    const list = byField.get(number) ?? [];
    list.push(writer.finish());
    byField.set(number, list);
  }
  // Unknown fields: numbers no message here uses, of every wire type.
  const unknownCount = Math.floor(next() * 3);
  for (let i = 0; i < unknownCount; i++) {
    const writer = new BinaryWriter();
    const number = 900 + Math.floor(next() * 100);
    switch (Math.floor(next() * 4)) {
      case 0:
        writer.tag(number, WireType.Varint).uint64(BigInt(Math.floor(next() * 2 ** 40)));
        break;
      case 1:
        writer.tag(number, WireType.Bit64).double(next());
        break;
      case 2:
        writer.tag(number, WireType.Bit32).fixed32(Math.floor(next() * 2 ** 32));
        break;
      default:
        writer.tag(number, WireType.LengthDelimited).bytes(new Uint8Array([1, 2, 3].slice(0, next() * 4)));
    }
    byField.set(number, [...(byField.get(number) ?? []), writer.finish()]);
  }
  // A random interleaving of the fields that keeps each field's own occurrences in order.
  const queues = [...byField.values()];
  const out = new BinaryWriter();
  while (queues.length > 0) {
    const pick = Math.floor(next() * queues.length);
    out.raw(queues[pick]!.shift()!);
    if (queues[pick]!.length === 0) queues.splice(pick, 1);
  }
  return out.finish();
}

function shuffleMapEntry(
  valueSchema: DescMessage | undefined,
  bytes: Uint8Array,
  next: () => number,
): Uint8Array {
  const reader = new BinaryReader(bytes);
  const parts: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [number, wireType] = reader.tag();
    const writer = new BinaryWriter();
    if (wireType === WireType.LengthDelimited) {
      let payload = reader.bytes();
      if (number === 2 && valueSchema !== undefined) payload = shuffleFields(valueSchema, payload, next);
      writer.tag(number, wireType).bytes(payload);
    } else {
      const start = reader.pos;
      reader.skip(wireType, number);
      writer.tag(number, wireType).raw(bytes.subarray(start, reader.pos));
    }
    parts.push(writer.finish());
  }
  if (next() < 0.5) parts.reverse();
  const out = new BinaryWriter();
  for (const part of parts) out.raw(part);
  return out.finish();
}

// ------------------------------------------------------------------ random messages

const id = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const uint32 = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const text = fc.string({ maxLength: 12 });

const valueInit: fc.Arbitrary<MessageInitShape<typeof ValueSchema>> = fc.oneof(
  fc.jsonValue().map((json) => ({
    kind: { case: "json" as const, value: new TextEncoder().encode(JSON.stringify(json)) },
  })),
  fc.uint8Array({ maxLength: 16 }).map((value) => ({ kind: { case: "raw" as const, value } })),
  fc.uint8Array({ maxLength: 16 }).map((value) => ({ kind: { case: "arrow" as const, value } })),
  fc
    .record({
      uri: text,
      size: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      sha256: text,
      encoding: fc.constantFrom(...[0, 1, 2, 3]),
    })
    .map((value) => ({ kind: { case: "blob" as const, value } })),
  fc.constant({}),
);

const failureInit: fc.Arbitrary<MessageInitShape<typeof FailureSchema>> = fc.letrec((tie) => ({
  failure: fc.record(
    {
      message: text,
      type: text,
      retryable: fc.boolean(),
      details: fc.option(
        fc.jsonValue().map((json) => encodeJsonValue(json)),
        { nil: undefined },
      ),
      stack: text,
      cause: fc.option(tie("failure") as fc.Arbitrary<MessageInitShape<typeof FailureSchema>>, {
        nil: undefined,
        depthSize: "small",
      }),
      retryDelayMs: uint32,
      nodeId: text,
    },
    { requiredKeys: ["message", "type", "retryable", "stack", "retryDelayMs", "nodeId"] },
  ),
})).failure;

const inputInit = fc.oneof(
  valueInit.map((value) => ({ source: { case: "value" as const, value } })),
  fc
    .record({ step: uint32, port: text })
    .map((value) => ({ source: { case: "stepOutput" as const, value } })),
  fc.record({ nodeId: text, port: text }).map((value) => ({ source: { case: "stream" as const, value } })),
);

const requestMessage: fc.Arbitrary<SessionRequest> = fc
  .array(
    fc.oneof(
      fc
        .record({
          invocationId: id.map(BigInt),
          executionId: text,
          steps: fc.array(
            fc.record({
              nodeId: text,
              nodeType: text,
              attempt: uint32,
              config: fc.option(valueInit, { nil: undefined }),
              inputs: fc.dictionary(text, inputInit, { maxKeys: 3 }),
              timeoutMs: uint32,
              traceparent: text,
              tracestate: text,
              resume: fc.array(
                fc.record({
                  port: text,
                  offset: id.map(BigInt),
                  // A checkpoint's state is a JSON value (decoded when read).
                  state: fc.option(
                    fc.jsonValue().map((json) => ({
                      kind: { case: "json" as const, value: new TextEncoder().encode(JSON.stringify(json)) },
                    })),
                    { nil: undefined },
                  ),
                }),
                { maxLength: 2 },
              ),
            }),
            { maxLength: 3 },
          ),
        })
        .map((value) => ({ kind: { case: "execute" as const, value } })),
      fc
        .record({ invocationId: id.map(BigInt), reason: text, graceMs: uint32 })
        .map((value) => ({ kind: { case: "cancel" as const, value } })),
      fc
        .record({ invocationId: id.map(BigInt), step: uint32, port: text, credits: uint32 })
        .map((value) => ({ kind: { case: "credit" as const, value } })),
      fc
        .record(
          {
            invocationId: id.map(BigInt),
            step: uint32,
            port: text,
            items: fc.array(valueInit, { maxLength: 3 }),
            end: fc.boolean(),
            failure: failureInit,
          },
          { requiredKeys: ["invocationId", "step", "port", "items", "end"] },
        )
        .map((value) => ({ kind: { case: "streamItems" as const, value } })),
      fc.constant({}),
    ),
    { maxLength: 4 },
  )
  .map((commands) => create(SessionRequestSchema, { commands }));

const eventKind = fc.oneof(
  fc.constant({ case: "started" as const, value: {} }),
  fc
    .record({
      level: fc.constantFrom(
        Log_Level.UNSPECIFIED,
        Log_Level.DEBUG,
        Log_Level.INFO,
        Log_Level.WARN,
        Log_Level.ERROR,
      ),
      message: text,
      fieldsJson: fc
        .option(fc.dictionary(text, fc.jsonValue(), { maxKeys: 3 }), { nil: undefined })
        .map((fields) =>
          fields === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(fields)),
        ),
    })
    .map((value) => ({ case: "log" as const, value })),
  fc
    .record({ fraction: fc.double({ noNaN: true }), message: text })
    .map((value) => ({ case: "progress" as const, value })),
  fc
    .record({ port: text, value: fc.option(valueInit, { nil: undefined }) })
    .map((value) => ({ case: "chunk" as const, value })),
  fc
    .record({ details: fc.option(valueInit, { nil: undefined }) })
    .map((value) => ({ case: "heartbeat" as const, value })),
  fc
    .record({ outputs: fc.dictionary(text, valueInit, { maxKeys: 3 }), durationUs: id.map(BigInt) })
    .map((value) => ({ case: "completed" as const, value })),
  fc
    .record({ failure: fc.option(failureInit, { nil: undefined }), durationUs: id.map(BigInt) })
    .map((value) => ({ case: "failed" as const, value })),
  fc.record({ reason: text }).map((value) => ({ case: "cancelled" as const, value })),
  fc
    .record({ invocationId: id.map(BigInt), step: uint32, port: text, credits: uint32 })
    .map((value) => ({ case: "credit" as const, value })),
  fc
    .record({ port: text, state: fc.option(valueInit, { nil: undefined }) })
    .map((value) => ({ case: "checkpoint" as const, value })),
  fc
    .record({ failure: fc.option(failureInit, { nil: undefined }) })
    .map((value) => ({ case: "rejected" as const, value })),
  fc.constant({ case: undefined }),
);

const responseMessage: fc.Arbitrary<SessionResponse> = fc
  .array(fc.record({ invocationId: id.map(BigInt), step: uint32, kind: eventKind }), { maxLength: 6 })
  .map((events) =>
    create(SessionResponseSchema, { events } as MessageInitShape<typeof SessionResponseSchema>),
  );

// ------------------------------------------------------------------ what each message means

/** The commands a SessionRequest holds, as the in-memory types (the meaning the codec must decode to). */
function commandsOf(message: SessionRequest): SessionCommand[] {
  const commands: SessionCommand[] = [];
  for (const command of message.commands) {
    const kind = command.kind;
    if (kind.case === "cancel") {
      commands.push({
        kind: "cancel",
        invocationId: Number(kind.value.invocationId),
        reason: kind.value.reason,
        graceMs: kind.value.graceMs,
      });
    } else if (kind.case === "credit") {
      commands.push({
        kind: "credit",
        invocationId: Number(kind.value.invocationId),
        step: kind.value.step,
        port: kind.value.port,
        credits: kind.value.credits,
      });
    } else if (kind.case === "streamItems") {
      commands.push({
        kind: "streamItems",
        invocationId: Number(kind.value.invocationId),
        step: kind.value.step,
        port: kind.value.port,
        items: kind.value.items.map((item) => new EncodedValue(item)),
        end: kind.value.end,
        ...(kind.value.failure === undefined ? {} : { failure: failureFromWire(kind.value.failure) }),
      });
    } else if (kind.case === "execute") {
      commands.push({
        kind: "execute",
        request: {
          invocationId: Number(kind.value.invocationId),
          executionId: kind.value.executionId,
          steps: kind.value.steps.map((step) => {
            const inputs: Record<string, StepInput> = {};
            for (const [port, input] of Object.entries(step.inputs)) {
              if (input.source.case === "value")
                inputs[port] = { value: new EncodedValue(input.source.value) };
              else if (input.source.case === "stepOutput")
                inputs[port] = { step: input.source.value.step, port: input.source.value.port };
              else if (input.source.case === "stream")
                inputs[port] = {
                  stream: { nodeId: input.source.value.nodeId, port: input.source.value.port },
                };
            }
            return {
              nodeId: step.nodeId,
              nodeType: step.nodeType,
              attempt: step.attempt,
              config: step.config === undefined ? {} : new EncodedValue(step.config),
              inputs,
              timeoutMs: step.timeoutMs,
              ...(step.traceparent === "" ? {} : { traceparent: step.traceparent }),
              ...(step.tracestate === "" ? {} : { tracestate: step.tracestate }),
              ...(step.resume.length === 0
                ? {}
                : {
                    // A port given twice keeps its last entry.
                    resume: Object.fromEntries(
                      step.resume.map((entry) => [
                        entry.port,
                        {
                          offset: Number(entry.offset),
                          state: entry.state === undefined ? null : decodeValue(entry.state),
                        },
                      ]),
                    ),
                  }),
            };
          }),
        },
      });
    }
  }
  return commands;
}

const LEVEL_NAMES: Record<number, LogLevel> = {
  [Log_Level.DEBUG]: "debug",
  [Log_Level.INFO]: "info",
  [Log_Level.WARN]: "warn",
  [Log_Level.ERROR]: "error",
};

function failureInfoOf(failure: Failure | undefined, retryable: boolean): FailureInfo {
  return failure === undefined
    ? { message: "the runtime reported a failure without details", type: "unknown", retryable }
    : failureFromWire(failure);
}

/** The sink calls a SessionResponse means, in order. */
function callsOf(message: SessionResponse): unknown[][] {
  const calls: unknown[][] = [];
  const empty = (value: Value | undefined) => new EncodedValue(value ?? create(ValueSchema));
  for (const event of message.events) {
    const target = Number(event.invocationId);
    const kind = event.kind;
    switch (kind.case) {
      case "started":
        calls.push([target, "started", event.step]);
        break;
      case "log": {
        const fields =
          kind.value.fieldsJson.byteLength === 0
            ? undefined
            : parseJsonText(new TextDecoder().decode(kind.value.fieldsJson));
        calls.push([
          target,
          "log",
          event.step,
          LEVEL_NAMES[kind.value.level] ?? "info",
          kind.value.message,
          fields,
        ]);
        break;
      }
      case "progress":
        calls.push([target, "progress", event.step, kind.value.fraction, kind.value.message]);
        break;
      case "chunk":
        calls.push([target, "chunk", event.step, kind.value.port, empty(kind.value.value)]);
        break;
      case "heartbeat":
        calls.push([
          target,
          "heartbeat",
          event.step,
          kind.value.details === undefined ? undefined : new EncodedValue(kind.value.details),
        ]);
        break;
      case "completed": {
        const outputs: Record<string, unknown> = {};
        for (const [port, value] of Object.entries(kind.value.outputs)) outputs[port] = empty(value);
        calls.push([target, "completed", event.step, outputs, Number(kind.value.durationUs)]);
        break;
      }
      case "failed":
        calls.push([
          target,
          "failed",
          event.step,
          failureInfoOf(kind.value.failure, true),
          Number(kind.value.durationUs),
        ]);
        break;
      case "cancelled":
        calls.push([target, "cancelled", event.step, kind.value.reason]);
        break;
      case "rejected":
        calls.push([target, "rejected", failureInfoOf(kind.value.failure, false)]);
        break;
      case "credit":
        // The Credit's own ids are the event's in an event; only its port and count are read.
        calls.push([target, "credit", event.step, kind.value.port, kind.value.credits]);
        break;
      case "checkpoint":
        calls.push([target, "checkpoint", event.step, kind.value.port, empty(kind.value.state)]);
        break;
      default:
        break;
    }
  }
  return calls;
}

/** A sink recording every call, for invocation `target`. */
function recordingSink(target: number, calls: unknown[][]): InvocationSink {
  return {
    started: (step) => calls.push([target, "started", step]),
    log: (step, level, message, fields) => calls.push([target, "log", step, level, message, fields]),
    progress: (step, fraction, message) => calls.push([target, "progress", step, fraction, message]),
    chunk: (step, port, value) => calls.push([target, "chunk", step, port, value]),
    heartbeat: (step, details) => calls.push([target, "heartbeat", step, details]),
    completed: (step, outputs, durationUs) => calls.push([target, "completed", step, outputs, durationUs]),
    failed: (step, info, durationUs) => calls.push([target, "failed", step, info, durationUs]),
    cancelled: (step, reason) => calls.push([target, "cancelled", step, reason]),
    rejected: (info) => calls.push([target, "rejected", info]),
    credit: (step, port, credits) => calls.push([target, "credit", step, port, credits]),
    checkpoint: (step, port, state) => calls.push([target, "checkpoint", step, port, state]),
  };
}

function dispatched(bytes: Uint8Array): unknown[][] {
  const calls: unknown[][] = [];
  dispatchSessionResponse(bytes, (target) => recordingSink(target, calls));
  return calls;
}

// ------------------------------------------------------------------ tests

describe("decodeSessionRequest()", () => {
  it("decodes what protobuf-es encodes, with fields in any order and unknown fields, to the same commands", () => {
    fc.assert(
      fc.property(requestMessage, fc.integer(), (message, seed) => {
        const bytes = shuffleFields(
          SessionRequestSchema,
          toBinary(SessionRequestSchema, message),
          random(seed),
        );
        expect(decodeSessionRequest(bytes)).toEqual(commandsOf(message));
      }),
      { numRuns: RUNS },
    );
  });

  it("merges a message field that occurs twice, and keeps the last member of a oneof", () => {
    const first = create(SessionRequestSchema, {
      commands: [
        {
          kind: {
            case: "execute",
            value: {
              invocationId: 5n,
              steps: [{ nodeId: "a", config: { kind: { case: "blob", value: { uri: "u" } } } }],
            },
          },
        },
      ],
    });
    const second = create(SessionRequestSchema, {
      commands: [
        {
          kind: {
            case: "execute",
            value: { executionId: "e", steps: [{ nodeId: "b" }] },
          },
        },
      ],
    });
    // Two encodings of Command one after the other inside one Command: protobuf merges them.
    const command = (message: SessionRequest) => {
      const reader = new BinaryReader(toBinary(SessionRequestSchema, message));
      reader.tag();
      return reader.bytes();
    };
    const merged = new BinaryWriter()
      .tag(1, WireType.LengthDelimited)
      .bytes(new Uint8Array([...command(first), ...command(second)]));
    const bytes = merged.finish();
    const decoded = decodeSessionRequest(bytes);
    expect(decoded).toEqual(commandsOf(fromBinary(SessionRequestSchema, bytes)));
    expect(decoded).toMatchObject([
      {
        kind: "execute",
        request: { invocationId: 5, executionId: "e", steps: [{ nodeId: "a" }, { nodeId: "b" }] },
      },
    ]);

    const cancelThenExecute = create(SessionRequestSchema, {
      commands: [{ kind: { case: "cancel", value: { invocationId: 1n } } }],
    });
    const both = new BinaryWriter()
      .tag(1, WireType.LengthDelimited)
      .bytes(new Uint8Array([...command(cancelThenExecute), ...command(second)]))
      .finish();
    expect(decodeSessionRequest(both)).toMatchObject([{ kind: "execute", request: { executionId: "e" } }]);
  });
});

describe("SessionRequestWriter", () => {
  it("writes the bytes protobuf-es writes for the same commands", () => {
    const live = fc.oneof(
      fc.jsonValue(),
      fc.uint8Array({ maxLength: 8 }),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    );
    const request = fc.record({
      invocationId: id,
      executionId: text,
      steps: fc.array(
        fc.record({
          nodeId: text,
          nodeType: text,
          attempt: uint32,
          config: fc.dictionary(text, fc.jsonValue(), { maxKeys: 3 }),
          inputs: fc.dictionary(
            text,
            fc.oneof(
              live.map((value) => ({ value })),
              fc.record({ step: uint32, port: text }),
              fc.record({ stream: fc.record({ nodeId: text, port: text }) }),
            ),
            { maxKeys: 3 },
          ),
          timeoutMs: uint32,
          traceparent: text,
          tracestate: text,
          resume: fc.dictionary(text, fc.record({ offset: id, state: fc.jsonValue() }), { maxKeys: 2 }),
        }),
        { maxLength: 3 },
      ),
    });
    fc.assert(
      fc.property(
        request,
        fc.record({ invocationId: id, reason: text, graceMs: uint32 }),
        fc.record({ invocationId: id, step: uint32, port: text, credits: uint32 }),
        fc.record({
          invocationId: id,
          step: uint32,
          port: text,
          // Items from another runtime stay encoded (passed on as they came); live ones are encoded here.
          items: fc.array(
            fc.oneof(
              live,
              valueInit.map((value) => new EncodedValue(create(ValueSchema, value))),
            ),
            {
              maxLength: 3,
            },
          ),
          end: fc.boolean(),
          failure: fc.option(fc.record({ message: text, type: text, retryable: fc.boolean() }), {
            nil: undefined,
          }),
        }),
        (invocation, cancel, credit, items) => {
          const writer = new SessionRequestWriter(blobs);
          writer.execute(invocation as InvocationRequest);
          writer.cancel(cancel.invocationId, cancel.reason, cancel.graceMs);
          writer.credit(credit.invocationId, credit.step, credit.port, credit.credits);
          writer.streamItems(
            items.invocationId,
            items.step,
            items.port,
            items.items,
            items.end,
            items.failure,
          );
          const ours = writer.finish();
          const theirs = create(SessionRequestSchema, {
            commands: [
              {
                kind: {
                  case: "execute",
                  value: {
                    invocationId: BigInt(invocation.invocationId),
                    executionId: invocation.executionId,
                    steps: invocation.steps.map((step) => ({
                      nodeId: step.nodeId,
                      nodeType: step.nodeType,
                      attempt: step.attempt,
                      config: encodeValue(step.config),
                      inputs: Object.fromEntries(
                        Object.entries(step.inputs).map(([port, input]) => [
                          port,
                          "step" in input
                            ? { source: { case: "stepOutput" as const, value: input } }
                            : "stream" in input
                              ? { source: { case: "stream" as const, value: input.stream } }
                              : { source: { case: "value" as const, value: encodeValue(input.value) } },
                        ]),
                      ),
                      timeoutMs: step.timeoutMs,
                      traceparent: step.traceparent,
                      tracestate: step.tracestate,
                      resume: Object.entries(step.resume).map(([port, resume]) => ({
                        port,
                        offset: BigInt(resume.offset),
                        state: encodeValue(resume.state),
                      })),
                    })),
                  },
                },
              },
              {
                kind: {
                  case: "cancel",
                  value: {
                    invocationId: BigInt(cancel.invocationId),
                    reason: cancel.reason,
                    graceMs: cancel.graceMs,
                  },
                },
              },
              {
                kind: {
                  case: "credit",
                  value: { ...credit, invocationId: BigInt(credit.invocationId) },
                },
              },
              {
                kind: {
                  case: "streamItems",
                  value: {
                    invocationId: BigInt(items.invocationId),
                    step: items.step,
                    port: items.port,
                    items: items.items.map((item) => encodeValue(item)),
                    end: items.end,
                    ...(items.failure === undefined
                      ? {}
                      : {
                          failure: {
                            message: items.failure.message,
                            type: items.failure.type,
                            retryable: items.failure.retryable,
                          },
                        }),
                  },
                },
              },
            ],
          });
          expect(ours).toEqual(toBinary(SessionRequestSchema, theirs));
          expect(decodeSessionRequest(ours)).toEqual(commandsOf(theirs));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("keeps a blob reference and a raw value as they are", () => {
    const writer = new SessionRequestWriter(blobs);
    const blob = create(ValueSchema, {
      kind: {
        case: "blob",
        value: { uri: "file:///tmp/x", size: 123n, sha256: "ab", encoding: BlobRef_Encoding.ARROW },
      },
    });
    writer.execute({
      invocationId: 9_000_000_001,
      executionId: "exec-1",
      steps: [
        {
          nodeId: "first",
          nodeType: "test.add",
          attempt: 2,
          config: { offset: 10, label: "héllo" },
          inputs: { b: { value: new Uint8Array([1, 2, 3]) }, big: { value: new EncodedValue(blob) } },
          timeoutMs: 500,
        },
      ],
    });
    const decoded = fromBinary(SessionRequestSchema, writer.finish());
    const execute = decoded.commands[0]!.kind;
    if (execute.case !== "execute") throw new Error(`expected an execute command, found ${execute.case}`);
    const [step] = execute.value.steps;
    expect(new TextDecoder().decode(step!.config!.kind.value as Uint8Array)).toBe(
      '{"offset":10,"label":"héllo"}',
    );
    expect(step!.inputs.b!.source).toMatchObject({
      case: "value",
      value: { kind: { case: "raw", value: new Uint8Array([1, 2, 3]) } },
    });
    expect(step!.inputs.big!.source).toMatchObject({ case: "value", value: blob });
  });
});

describe("dispatchSessionResponse()", () => {
  it("routes what protobuf-es encodes, with fields in any order and unknown fields, to the same sink calls", () => {
    fc.assert(
      fc.property(responseMessage, fc.integer(), (message, seed) => {
        const bytes = shuffleFields(
          SessionResponseSchema,
          toBinary(SessionResponseSchema, message),
          random(seed),
        );
        expect(dispatched(bytes)).toEqual(callsOf(message));
      }),
      { numRuns: RUNS },
    );
  });

  it("routes an event whose kind comes before its ids to its own invocation", () => {
    // Event{completed{outputs: {sum: json 3}}, step: 1, invocation_id: 7}: the kind first, the ids last.
    const completed = new BinaryWriter()
      .tag(1, WireType.LengthDelimited)
      .fork()
      .tag(1, WireType.LengthDelimited)
      .string("sum")
      .tag(2, WireType.LengthDelimited)
      .fork()
      .tag(1, WireType.LengthDelimited)
      .bytes(new TextEncoder().encode("3"))
      .join()
      .join()
      .finish();
    const event = new BinaryWriter()
      .tag(8, WireType.LengthDelimited)
      .bytes(completed)
      .tag(2, WireType.Varint)
      .uint32(1)
      .tag(1, WireType.Varint)
      .uint64(7)
      .finish();
    const bytes = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(event).finish();
    const routed: number[] = [];
    const calls: unknown[][] = [];
    dispatchSessionResponse(bytes, (target) => {
      routed.push(target);
      return recordingSink(target, calls);
    });
    expect(routed).toEqual([7]);
    expect(calls).toEqual([[7, "completed", 1, { sum: new EncodedValue(encodeJsonValue(3)) }, 0]]);
  });

  it("skips events of invocations the router does not know", () => {
    const writer = new SessionResponseWriter(blobs);
    writer.sink(1, () => {}).started(0);
    writer.sink(2, () => {}).cancelled(0, "stop");
    const calls: unknown[][] = [];
    dispatchSessionResponse(writer.finish(), (target) =>
      target === 1 ? undefined : recordingSink(target, calls),
    );
    expect(calls).toEqual([[2, "cancelled", 0, "stop"]]);
  });
});

describe("SessionResponseWriter", () => {
  it("writes the bytes protobuf-es writes for the same events, and they dispatch back to the same calls", () => {
    const failure: fc.Arbitrary<FailureInfo> = fc.record(
      {
        message: text,
        type: text,
        retryable: fc.boolean(),
        details: fc.jsonValue(),
        stack: text,
        retryDelayMs: fc.integer({ min: 1, max: 100_000 }),
      },
      { requiredKeys: ["message", "type", "retryable"] },
    );
    const live = fc.oneof(fc.jsonValue(), fc.uint8Array({ maxLength: 8 }));
    const call = fc.oneof(
      fc.tuple(fc.constant("started" as const), uint32),
      fc.tuple(
        fc.constant("log" as const),
        uint32,
        fc.constantFrom<LogLevel>("debug", "info", "warn", "error"),
        text,
        fc.option(fc.dictionary(text, fc.jsonValue(), { maxKeys: 2 }), { nil: undefined }),
      ),
      fc.tuple(fc.constant("progress" as const), uint32, fc.double({ noNaN: true }), text),
      fc.tuple(fc.constant("chunk" as const), uint32, text, live),
      fc.tuple(fc.constant("heartbeat" as const), uint32, fc.option(live, { nil: undefined })),
      fc.tuple(fc.constant("completed" as const), uint32, fc.dictionary(text, live, { maxKeys: 3 }), id),
      fc.tuple(fc.constant("failed" as const), uint32, failure, id),
      fc.tuple(fc.constant("cancelled" as const), uint32, text),
      fc.tuple(fc.constant("rejected" as const), failure),
      fc.tuple(fc.constant("credit" as const), uint32, text, uint32),
      fc.tuple(fc.constant("checkpoint" as const), uint32, text, live),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(id, call), { maxLength: 6 }), (script) => {
        const writer = new SessionResponseWriter(blobs);
        const events: ReturnType<typeof expectedEvent>[] = [];
        for (const [target, [name, ...args]] of script) {
          const sink = writer.sink(target, () => {}) as unknown as Record<string, (...a: unknown[]) => void>;
          sink[name]!(...args);
          events.push(expectedEvent(target, name, args));
        }
        const ours = writer.finish();
        const theirs = create(SessionResponseSchema, { events });
        expect(ours).toEqual(toBinary(SessionResponseSchema, theirs));
        expect(dispatched(ours)).toEqual(callsOf(theirs));
      }),
      { numRuns: RUNS },
    );
  });

  it("fails a step whose output cannot be encoded, instead of throwing", () => {
    const writer = new SessionResponseWriter(blobs);
    const ended: boolean[] = [];
    writer
      .sink(3, (terminal) => ended.push(terminal))
      .completed(
        0,
        {
          bad: {
            toJSON: () => {
              throw new Error("no");
            },
          },
        },
        5,
      );
    const calls = dispatched(writer.finish());
    expect(ended).toEqual([true]);
    expect(calls).toMatchObject([[3, "failed", 0, { type: "value.unencodable", retryable: false }, 5]]);
  });
});

/** The protobuf-es form of one sink call, built independently of the codec. */
function expectedEvent(target: number, name: string, args: unknown[]): MessageInitShape<typeof EventSchema> {
  const levels: Record<LogLevel, Log_Level> = {
    debug: Log_Level.DEBUG,
    info: Log_Level.INFO,
    warn: Log_Level.WARN,
    error: Log_Level.ERROR,
  };
  const failureOf = (info: FailureInfo) =>
    create(FailureSchema, {
      message: info.message,
      type: info.type,
      retryable: info.retryable,
      ...(info.details === undefined ? {} : { details: encodeJsonValue(info.details) }),
      stack: info.stack ?? "",
      retryDelayMs: info.retryDelayMs ?? 0,
    });
  const invocationId = BigInt(target);
  switch (name) {
    case "started":
      return { invocationId, step: args[0] as number, kind: { case: "started", value: {} } };
    case "log":
      return {
        invocationId,
        step: args[0] as number,
        kind: {
          case: "log",
          value: {
            level: levels[args[1] as LogLevel],
            message: args[2] as string,
            fieldsJson:
              args[3] === undefined ? new Uint8Array() : new TextEncoder().encode(JSON.stringify(args[3])),
          },
        },
      };
    case "progress":
      return {
        invocationId,
        step: args[0] as number,
        kind: { case: "progress", value: { fraction: args[1] as number, message: args[2] as string } },
      };
    case "chunk":
      return {
        invocationId,
        step: args[0] as number,
        kind: { case: "chunk", value: { port: args[1] as string, value: encodeValue(args[2]) } },
      };
    case "heartbeat":
      return {
        invocationId,
        step: args[0] as number,
        kind: { case: "heartbeat", value: args[1] === undefined ? {} : { details: encodeValue(args[1]) } },
      };
    case "completed":
      return {
        invocationId,
        step: args[0] as number,
        kind: {
          case: "completed",
          value: {
            outputs: Object.fromEntries(
              Object.entries(args[1] as Record<string, unknown>).map(([port, value]) => [
                port,
                encodeValue(value),
              ]),
            ),
            durationUs: BigInt(args[2] as number),
          },
        },
      };
    case "failed":
      return {
        invocationId,
        step: args[0] as number,
        kind: {
          case: "failed",
          value: { failure: failureOf(args[1] as FailureInfo), durationUs: BigInt(args[2] as number) },
        },
      };
    case "cancelled":
      return {
        invocationId,
        step: args[0] as number,
        kind: { case: "cancelled", value: { reason: args[1] as string } },
      };
    case "credit":
      return {
        invocationId,
        step: args[0] as number,
        kind: { case: "credit", value: { port: args[1] as string, credits: args[2] as number } },
      };
    case "checkpoint":
      return {
        invocationId,
        step: args[0] as number,
        kind: { case: "checkpoint", value: { port: args[1] as string, state: encodeValue(args[2]) } },
      };
    default:
      return {
        invocationId,
        kind: { case: "rejected", value: { failure: failureOf(args[0] as FailureInfo) } },
      };
  }
}
