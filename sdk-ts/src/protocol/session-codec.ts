import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  type BlobRef,
  BlobRef_Encoding,
  FailureSchema,
  Log_Level,
  type Value,
} from "../gen/conductor/runtime/v1/runtime_pb.js";
import { type FailureInfo, failureFromWire, failureToWire } from "./failure.js";
import type { InvocationRequest, InvocationSink, LogLevel, StepInput, StepRequest } from "./invocation.js";
import { type BlobOptions, EncodedValue, encodeValue } from "./value-codec.js";

/**
 * A hand-written codec for the two hot messages of the ABI, `SessionRequest` and `SessionResponse`, producing and
 * reading exactly the bytes the generated protobuf-es code does (session-codec.test.ts checks both ways against
 * it). Because: protobuf-es encodes by reflection, and for a one-node dispatch that costs more than the socket
 * round trip itself; this codec writes straight from the in-memory invocation types to bytes and reads straight
 * into sink calls, with no intermediate message objects. Every other message still goes through protobuf-es.
 */

// Field numbers, from proto/conductor/runtime/v1/runtime.proto.
const SESSION_REQUEST_COMMANDS = 1;
const COMMAND_EXECUTE = 1;
const COMMAND_CANCEL = 2;
const EXECUTE = { invocationId: 1, executionId: 2, steps: 3 } as const;
const STEP = { nodeId: 1, nodeType: 2, attempt: 3, config: 4, inputs: 5, timeoutMs: 6 } as const;
const INPUT_VALUE = 1;
const INPUT_STEP_OUTPUT = 2;
const CANCEL = { invocationId: 1, reason: 2, graceMs: 3 } as const;
const VALUE = { json: 1, raw: 2, arrow: 3, blob: 4 } as const;
const BLOB = { uri: 1, size: 2, sha256: 3, encoding: 4 } as const;
const SESSION_RESPONSE_EVENTS = 1;
const EVENT = {
  invocationId: 1,
  step: 2,
  started: 3,
  log: 4,
  progress: 5,
  chunk: 6,
  heartbeat: 7,
  completed: 8,
  failed: 9,
  cancelled: 10,
  rejected: 11,
} as const;

const textEncoder = new TextEncoder();
const VALUE_TYPE = "conductor.runtime.v1.Value" as const;
const BLOB_TYPE = "conductor.runtime.v1.BlobRef" as const;

/** A command decoded from a `SessionRequest`. */
export type SessionCommand =
  | { kind: "execute"; request: InvocationRequest }
  | { kind: "cancel"; invocationId: number; reason: string; graceMs: number };

// ------------------------------------------------------------------ requests (host → runtime)

/** Accumulates commands and encodes them as one `SessionRequest`. */
export class SessionRequestWriter {
  private writer = new BinaryWriter();
  private count = 0;

  constructor(private readonly blobs: BlobOptions) {}

  get size(): number {
    return this.count;
  }

  /** Adds an Execute command; throws a ValueError when an input cannot be encoded (nothing is added then). */
  execute(request: InvocationRequest): void {
    const command = new BinaryWriter();
    command.tag(COMMAND_EXECUTE, WireType.LengthDelimited).fork();
    command.tag(EXECUTE.invocationId, WireType.Varint).uint64(request.invocationId);
    if (request.executionId !== "")
      command.tag(EXECUTE.executionId, WireType.LengthDelimited).string(request.executionId);
    for (const step of request.steps) writeStep(command, step, this.blobs);
    command.join();
    this.writer.tag(SESSION_REQUEST_COMMANDS, WireType.LengthDelimited).bytes(command.finish());
    this.count++;
  }

  cancel(invocationId: number, reason: string, graceMs: number): void {
    const writer = this.writer.tag(SESSION_REQUEST_COMMANDS, WireType.LengthDelimited).fork();
    writer.tag(COMMAND_CANCEL, WireType.LengthDelimited).fork();
    writer.tag(CANCEL.invocationId, WireType.Varint).uint64(invocationId);
    if (reason !== "") writer.tag(CANCEL.reason, WireType.LengthDelimited).string(reason);
    if (graceMs !== 0) writer.tag(CANCEL.graceMs, WireType.Varint).uint32(graceMs);
    writer.join().join();
    this.count++;
  }

  /** The encoded `SessionRequest`; the writer starts empty again. */
  finish(): Uint8Array {
    const bytes = this.writer.finish();
    this.writer = new BinaryWriter();
    this.count = 0;
    return bytes;
  }
}

function writeStep(writer: BinaryWriter, step: StepRequest, blobs: BlobOptions): void {
  writer.tag(EXECUTE.steps, WireType.LengthDelimited).fork();
  if (step.nodeId !== "") writer.tag(STEP.nodeId, WireType.LengthDelimited).string(step.nodeId);
  if (step.nodeType !== "") writer.tag(STEP.nodeType, WireType.LengthDelimited).string(step.nodeType);
  if (step.attempt !== 0) writer.tag(STEP.attempt, WireType.Varint).uint32(step.attempt);
  writer.tag(STEP.config, WireType.LengthDelimited).fork();
  writeValue(writer, step.config instanceof EncodedValue ? step.config.wire : encodeConfig(step.config));
  writer.join();
  for (const port in step.inputs) {
    const input = step.inputs[port]!;
    writer.tag(STEP.inputs, WireType.LengthDelimited).fork();
    writer.tag(1, WireType.LengthDelimited).string(port);
    writer.tag(2, WireType.LengthDelimited).fork();
    if ("step" in input) {
      writer.tag(INPUT_STEP_OUTPUT, WireType.LengthDelimited).fork();
      if (input.step !== 0) writer.tag(1, WireType.Varint).uint32(input.step);
      if (input.port !== "") writer.tag(2, WireType.LengthDelimited).string(input.port);
      writer.join();
    } else {
      writer.tag(INPUT_VALUE, WireType.LengthDelimited).fork();
      writeValue(writer, encodeValue(input.value, blobs));
      writer.join();
    }
    writer.join().join();
  }
  if (step.timeoutMs !== 0) writer.tag(STEP.timeoutMs, WireType.Varint).uint32(step.timeoutMs);
  writer.join();
}

/** Config objects are usually shared by every run of a blueprint: encode each once. */
const encodedConfigs = new WeakMap<object, Value>();

function encodeConfig(config: unknown): Value {
  if (typeof config !== "object" || config === null) return jsonValue(JSON.stringify(config ?? {}));
  let value = encodedConfigs.get(config);
  if (value === undefined) {
    value = jsonValue(JSON.stringify(config));
    encodedConfigs.set(config, value);
  }
  return value;
}

function jsonValue(text: string): Value {
  return { $typeName: VALUE_TYPE, kind: { case: "json", value: textEncoder.encode(text) } };
}

function writeValue(writer: BinaryWriter, value: Value): void {
  const kind = value.kind;
  switch (kind.case) {
    case "json":
      writer.tag(VALUE.json, WireType.LengthDelimited).bytes(kind.value);
      return;
    case "raw":
      writer.tag(VALUE.raw, WireType.LengthDelimited).bytes(kind.value);
      return;
    case "arrow":
      writer.tag(VALUE.arrow, WireType.LengthDelimited).bytes(kind.value);
      return;
    case "blob": {
      const blob = kind.value;
      writer.tag(VALUE.blob, WireType.LengthDelimited).fork();
      if (blob.uri !== "") writer.tag(BLOB.uri, WireType.LengthDelimited).string(blob.uri);
      if (blob.size !== 0n) writer.tag(BLOB.size, WireType.Varint).uint64(blob.size);
      if (blob.sha256 !== "") writer.tag(BLOB.sha256, WireType.LengthDelimited).string(blob.sha256);
      if (blob.encoding !== 0) writer.tag(BLOB.encoding, WireType.Varint).int32(blob.encoding);
      writer.join();
      return;
    }
    default:
      return;
  }
}

/** Decodes a `SessionRequest` into commands; values stay encoded. */
export function decodeSessionRequest(bytes: Uint8Array): SessionCommand[] {
  const reader = new BinaryReader(bytes);
  const commands: SessionCommand[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field !== SESSION_REQUEST_COMMANDS) {
      reader.skip(wireType, field);
      continue;
    }
    const end = reader.uint32() + reader.pos;
    while (reader.pos < end) {
      const [commandField, commandWire] = reader.tag();
      if (commandField === COMMAND_EXECUTE) commands.push({ kind: "execute", request: readExecute(reader) });
      else if (commandField === COMMAND_CANCEL) commands.push(readCancel(reader));
      else reader.skip(commandWire, commandField);
    }
  }
  return commands;
}

function readExecute(reader: BinaryReader): InvocationRequest {
  const end = reader.uint32() + reader.pos;
  const request: InvocationRequest = { invocationId: 0, executionId: "", steps: [] };
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    switch (field) {
      case EXECUTE.invocationId:
        request.invocationId = Number(reader.uint64());
        break;
      case EXECUTE.executionId:
        request.executionId = reader.string();
        break;
      case EXECUTE.steps:
        request.steps.push(readStep(reader));
        break;
      default:
        reader.skip(wireType, field);
    }
  }
  return request;
}

function readStep(reader: BinaryReader): StepRequest {
  const end = reader.uint32() + reader.pos;
  const step: StepRequest = { nodeId: "", nodeType: "", attempt: 0, config: {}, inputs: {}, timeoutMs: 0 };
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    switch (field) {
      case STEP.nodeId:
        step.nodeId = reader.string();
        break;
      case STEP.nodeType:
        step.nodeType = reader.string();
        break;
      case STEP.attempt:
        step.attempt = reader.uint32();
        break;
      case STEP.config:
        step.config = new EncodedValue(readValue(reader));
        break;
      case STEP.inputs: {
        const entryEnd = reader.uint32() + reader.pos;
        let port = "";
        let input: StepInput | undefined;
        while (reader.pos < entryEnd) {
          const [entryField, entryWire] = reader.tag();
          if (entryField === 1) port = reader.string();
          else if (entryField === 2) input = readInput(reader);
          else reader.skip(entryWire, entryField);
        }
        if (input !== undefined) step.inputs[port] = input;
        break;
      }
      case STEP.timeoutMs:
        step.timeoutMs = reader.uint32();
        break;
      default:
        reader.skip(wireType, field);
    }
  }
  return step;
}

function readInput(reader: BinaryReader): StepInput | undefined {
  const end = reader.uint32() + reader.pos;
  let input: StepInput | undefined;
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (field === INPUT_VALUE) input = { value: new EncodedValue(readValue(reader)) };
    else if (field === INPUT_STEP_OUTPUT) {
      const outputEnd = reader.uint32() + reader.pos;
      let step = 0;
      let port = "";
      while (reader.pos < outputEnd) {
        const [outputField, outputWire] = reader.tag();
        if (outputField === 1) step = reader.uint32();
        else if (outputField === 2) port = reader.string();
        else reader.skip(outputWire, outputField);
      }
      input = { step, port };
    } else reader.skip(wireType, field);
  }
  return input;
}

function readCancel(reader: BinaryReader): SessionCommand {
  const end = reader.uint32() + reader.pos;
  const cancel = { kind: "cancel" as const, invocationId: 0, reason: "", graceMs: 0 };
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (field === CANCEL.invocationId) cancel.invocationId = Number(reader.uint64());
    else if (field === CANCEL.reason) cancel.reason = reader.string();
    else if (field === CANCEL.graceMs) cancel.graceMs = reader.uint32();
    else reader.skip(wireType, field);
  }
  return cancel;
}

function readValue(reader: BinaryReader): Value {
  const end = reader.uint32() + reader.pos;
  let value: Value = { $typeName: VALUE_TYPE, kind: { case: undefined } };
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    switch (field) {
      case VALUE.json:
        value = { $typeName: VALUE_TYPE, kind: { case: "json", value: reader.bytes() } };
        break;
      case VALUE.raw:
        value = { $typeName: VALUE_TYPE, kind: { case: "raw", value: reader.bytes() } };
        break;
      case VALUE.arrow:
        value = { $typeName: VALUE_TYPE, kind: { case: "arrow", value: reader.bytes() } };
        break;
      case VALUE.blob:
        value = { $typeName: VALUE_TYPE, kind: { case: "blob", value: readBlob(reader) } };
        break;
      default:
        reader.skip(wireType, field);
    }
  }
  return value;
}

function readBlob(reader: BinaryReader): BlobRef {
  const end = reader.uint32() + reader.pos;
  const blob: BlobRef = {
    $typeName: BLOB_TYPE,
    uri: "",
    size: 0n,
    sha256: "",
    encoding: BlobRef_Encoding.UNSPECIFIED,
  };
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (field === BLOB.uri) blob.uri = reader.string();
    else if (field === BLOB.size) blob.size = BigInt(reader.uint64());
    else if (field === BLOB.sha256) blob.sha256 = reader.string();
    else if (field === BLOB.encoding) blob.encoding = reader.int32();
    else reader.skip(wireType, field);
  }
  return blob;
}

// ------------------------------------------------------------------ responses (runtime → host)

const LOG_LEVELS: Record<LogLevel, Log_Level> = {
  debug: Log_Level.DEBUG,
  info: Log_Level.INFO,
  warn: Log_Level.WARN,
  error: Log_Level.ERROR,
};
const LOG_LEVEL_NAMES: Record<number, LogLevel> = {
  [Log_Level.DEBUG]: "debug",
  [Log_Level.INFO]: "info",
  [Log_Level.WARN]: "warn",
  [Log_Level.ERROR]: "error",
};

/**
 * Accumulates events of many invocations and encodes them as one `SessionResponse`. `sink()` gives the
 * InvocationSink of one invocation; its calls append events.
 */
export class SessionResponseWriter {
  private writer = new BinaryWriter();
  private count = 0;

  constructor(private readonly blobs: BlobOptions) {}

  get size(): number {
    return this.count;
  }

  finish(): Uint8Array {
    const bytes = this.writer.finish();
    this.writer = new BinaryWriter();
    this.count = 0;
    return bytes;
  }

  /** A sink writing the events of invocation `invocationId`; `onEvent` runs after each event is added. */
  sink(invocationId: number, onEvent: (terminal: boolean) => void): InvocationSink {
    const begin = (step: number, kind: number): BinaryWriter => {
      const writer = this.writer.tag(SESSION_RESPONSE_EVENTS, WireType.LengthDelimited).fork();
      writer.tag(EVENT.invocationId, WireType.Varint).uint64(invocationId);
      if (step !== 0) writer.tag(EVENT.step, WireType.Varint).uint32(step);
      return writer.tag(kind, WireType.LengthDelimited).fork();
    };
    const end = (terminal: boolean) => {
      this.writer.join().join();
      this.count++;
      onEvent(terminal);
    };
    const failure = (kind: number, step: number, info: FailureInfo, durationUs: number) => {
      const writer = begin(step, kind);
      writer.tag(1, WireType.LengthDelimited).bytes(toBinary(FailureSchema, failureToWire(info)));
      if (durationUs !== 0) writer.tag(2, WireType.Varint).uint64(durationUs);
      end(true);
    };
    return {
      started: (step) => {
        begin(step, EVENT.started);
        end(false);
      },
      log: (step, level, message, fields) => {
        const writer = begin(step, EVENT.log);
        writer.tag(1, WireType.Varint).int32(LOG_LEVELS[level]);
        if (message !== "") writer.tag(2, WireType.LengthDelimited).string(message);
        if (fields !== undefined)
          writer.tag(3, WireType.LengthDelimited).bytes(textEncoder.encode(JSON.stringify(fields)));
        end(false);
      },
      progress: (step, fraction, message) => {
        const writer = begin(step, EVENT.progress);
        if (fraction !== 0) writer.tag(1, WireType.Bit64).double(fraction);
        if (message !== "") writer.tag(2, WireType.LengthDelimited).string(message);
        end(false);
      },
      chunk: (step, port, value) => {
        const encoded = encodeValue(value, this.blobs);
        const writer = begin(step, EVENT.chunk);
        if (port !== "") writer.tag(1, WireType.LengthDelimited).string(port);
        writer.tag(2, WireType.LengthDelimited).fork();
        writeValue(writer, encoded);
        writer.join();
        end(false);
      },
      heartbeat: (step, details) => {
        const encoded = details === undefined ? undefined : encodeValue(details, this.blobs);
        const writer = begin(step, EVENT.heartbeat);
        if (encoded !== undefined) {
          writer.tag(1, WireType.LengthDelimited).fork();
          writeValue(writer, encoded);
          writer.join();
        }
        end(false);
      },
      completed: (step, outputs, durationUs) => {
        // Encode every output first, so a value that cannot be encoded fails the step cleanly.
        const encoded: [string, Value][] = [];
        try {
          for (const port in outputs) encoded.push([port, encodeValue(outputs[port], this.blobs)]);
        } catch (error) {
          failure(
            EVENT.failed,
            step,
            {
              message: `outputs cannot be encoded: ${(error as Error).message}`,
              type: "value.unencodable",
              retryable: false,
            },
            durationUs,
          );
          return;
        }
        const writer = begin(step, EVENT.completed);
        for (const [port, value] of encoded) {
          writer.tag(1, WireType.LengthDelimited).fork();
          writer.tag(1, WireType.LengthDelimited).string(port);
          writer.tag(2, WireType.LengthDelimited).fork();
          writeValue(writer, value);
          writer.join().join();
        }
        if (durationUs !== 0) writer.tag(2, WireType.Varint).uint64(durationUs);
        end(true);
      },
      failed: (step, info, durationUs) => failure(EVENT.failed, step, info, durationUs),
      cancelled: (step, reason) => {
        const writer = begin(step, EVENT.cancelled);
        if (reason !== "") writer.tag(1, WireType.LengthDelimited).string(reason);
        end(true);
      },
      rejected: (info) => failure(EVENT.rejected, 0, info, 0),
    };
  }
}

/**
 * Decodes a `SessionResponse` and calls `route(invocationId)`'s sink for each event, in order. Events of unknown
 * invocations (already finished or abandoned) are skipped.
 */
export function dispatchSessionResponse(
  bytes: Uint8Array,
  route: (invocationId: number) => InvocationSink | undefined,
): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field !== SESSION_RESPONSE_EVENTS) {
      reader.skip(wireType, field);
      continue;
    }
    const end = reader.uint32() + reader.pos;
    let invocationId = 0;
    let step = 0;
    while (reader.pos < end) {
      const [eventField, eventWire] = reader.tag();
      if (eventField === EVENT.invocationId) {
        invocationId = Number(reader.uint64());
        continue;
      }
      if (eventField === EVENT.step) {
        step = reader.uint32();
        continue;
      }
      if (
        eventWire !== WireType.LengthDelimited ||
        eventField < EVENT.started ||
        eventField > EVENT.rejected
      ) {
        reader.skip(eventWire, eventField);
        continue;
      }
      const sink = route(invocationId);
      const kindEnd = reader.uint32() + reader.pos;
      if (sink === undefined) {
        reader.pos = kindEnd;
        continue;
      }
      readEvent(reader, eventField, kindEnd, step, sink);
    }
  }
}

function readEvent(
  reader: BinaryReader,
  kind: number,
  end: number,
  step: number,
  sink: InvocationSink,
): void {
  switch (kind) {
    case EVENT.started:
      reader.pos = end;
      sink.started(step);
      return;
    case EVENT.log: {
      let level: LogLevel = "info";
      let message = "";
      let fields: Record<string, unknown> | undefined;
      while (reader.pos < end) {
        const [field, wireType] = reader.tag();
        if (field === 1) level = LOG_LEVEL_NAMES[reader.int32()] ?? "info";
        else if (field === 2) message = reader.string();
        else if (field === 3) fields = parseFields(reader.bytes());
        else reader.skip(wireType, field);
      }
      sink.log(step, level, message, fields);
      return;
    }
    case EVENT.progress: {
      let fraction = 0;
      let message = "";
      while (reader.pos < end) {
        const [field, wireType] = reader.tag();
        if (field === 1) fraction = reader.double();
        else if (field === 2) message = reader.string();
        else reader.skip(wireType, field);
      }
      sink.progress(step, fraction, message);
      return;
    }
    case EVENT.chunk: {
      let port = "";
      let value: unknown = null;
      while (reader.pos < end) {
        const [field, wireType] = reader.tag();
        if (field === 1) port = reader.string();
        else if (field === 2) value = new EncodedValue(readValue(reader));
        else reader.skip(wireType, field);
      }
      sink.chunk(step, port, value);
      return;
    }
    case EVENT.heartbeat: {
      let details: unknown;
      while (reader.pos < end) {
        const [field, wireType] = reader.tag();
        if (field === 1) details = new EncodedValue(readValue(reader));
        else reader.skip(wireType, field);
      }
      sink.heartbeat(step, details);
      return;
    }
    case EVENT.completed: {
      const outputs: Record<string, unknown> = {};
      let durationUs = 0;
      while (reader.pos < end) {
        const [field, wireType] = reader.tag();
        if (field === 1) {
          const entryEnd = reader.uint32() + reader.pos;
          let port = "";
          let value: Value | undefined;
          while (reader.pos < entryEnd) {
            const [entryField, entryWire] = reader.tag();
            if (entryField === 1) port = reader.string();
            else if (entryField === 2) value = readValue(reader);
            else reader.skip(entryWire, entryField);
          }
          outputs[port] = new EncodedValue(value ?? { $typeName: VALUE_TYPE, kind: { case: undefined } });
        } else if (field === 2) durationUs = Number(reader.uint64());
        else reader.skip(wireType, field);
      }
      sink.completed(step, outputs, durationUs);
      return;
    }
    case EVENT.failed:
    case EVENT.rejected: {
      let failure: FailureInfo = {
        message: "the runtime reported a failure without details",
        type: "unknown",
        retryable: kind === EVENT.failed,
      };
      let durationUs = 0;
      while (reader.pos < end) {
        const [field, wireType] = reader.tag();
        if (field === 1) failure = failureFromWire(fromBinary(FailureSchema, reader.bytes()));
        else if (field === 2) durationUs = Number(reader.uint64());
        else reader.skip(wireType, field);
      }
      if (kind === EVENT.failed) sink.failed(step, failure, durationUs);
      else sink.rejected(failure);
      return;
    }
    case EVENT.cancelled: {
      let reason = "";
      while (reader.pos < end) {
        const [field, wireType] = reader.tag();
        if (field === 1) reason = reader.string();
        else reader.skip(wireType, field);
      }
      sink.cancelled(step, reason);
      return;
    }
    default:
      reader.pos = end;
  }
}

const textDecoder = new TextDecoder();

function parseFields(bytes: Uint8Array): Record<string, unknown> | undefined {
  if (bytes.byteLength === 0) return undefined;
  try {
    const parsed = JSON.parse(textDecoder.decode(bytes)) as unknown;
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
