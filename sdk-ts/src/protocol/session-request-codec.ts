import { fromBinary, mergeFromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { type Failure, FailureSchema, type Value } from "../gen/conductor/runtime/v1/runtime_pb.js";
import { type FailureInfo, failureFromWire, failureToWire } from "./failure.js";
import type { InvocationRequest, StepInput, StepRequest } from "./invocation.js";
import { CREDIT, MAP_ENTRY, REQUEST } from "./session-fields.js";
import { type BlobOptions, decodeValue, EncodedValue, encodeValue } from "./value-codec.js";
import { type ReceiverFeatures, valueForReceiver } from "./value-features.js";
import { readValue, writeValueFields } from "./value-wire.js";

/**
 * A hand-written codec for `SessionRequest`, the hot message from host to runtime, producing and reading exactly
 * the bytes the generated protobuf-es code does (session-codec.test.ts checks both ways against it, on random
 * messages in any field order). Because: protobuf-es encodes by reflection, and for a one-node dispatch that costs
 * more than the socket round trip itself (bench/src/scenarios/codec.ts measures both in the same run); this codec
 * writes straight from the in-memory invocation to bytes, with no intermediate message objects. Every other
 * message still goes through protobuf-es; field numbers come from the generated descriptors (session-fields.ts).
 * Reading follows protobuf's rules for any field order: the last member of a oneof wins, a message field that
 * occurs twice is merged, unknown fields are skipped.
 */

const { sessionRequest: SESSION_REQUEST, command: COMMAND, execute: EXECUTE, step: STEP } = REQUEST;
const { input: INPUT, stepOutput: STEP_OUTPUT, cancel: CANCEL } = REQUEST;
const { streamSource: STREAM_SOURCE, streamItems: STREAM_ITEMS, streamResume: STREAM_RESUME } = REQUEST;

/** A command decoded from a `SessionRequest`. */
export type SessionCommand =
  | { kind: "execute"; request: InvocationRequest }
  | { kind: "cancel"; invocationId: number; reason: string; graceMs: number }
  | CreditCommand
  | StreamItemsCommand;

/** `Credit`: the step may send `credits` more items on its stream output `port` (docs/protocol.md §3.5). */
export interface CreditCommand {
  kind: "credit";
  invocationId: number;
  step: number;
  port: string;
  credits: number;
}

/**
 * `StreamItems`: the next items of a step's stream input, kept in their wire form (each an {@link EncodedValue}
 * the runtime decodes when the node reads it); `end` closes the stream, `failure` closes it with the producer's
 * failure.
 */
export interface StreamItemsCommand {
  kind: "streamItems";
  invocationId: number;
  step: number;
  port: string;
  items: EncodedValue[];
  end: boolean;
  failure?: FailureInfo;
}

/** Accumulates commands and encodes them as one `SessionRequest`. */
export class SessionRequestWriter {
  private writer = new BinaryWriter();
  private count = 0;

  /**
   * `receiver`: what the runtime these commands go to announced; without it every value is sent as it is (a
   * runtime that serves this ABI in full).
   */
  constructor(
    private readonly blobs: BlobOptions,
    private readonly receiver?: ReceiverFeatures,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Adds an Execute command; throws a ValueError when an input cannot be encoded (nothing is added then). */
  execute(request: InvocationRequest): void {
    const command = new BinaryWriter();
    command.tag(COMMAND.execute, WireType.LengthDelimited).fork();
    if (request.invocationId !== 0)
      command.tag(EXECUTE.invocationId, WireType.Varint).uint64(request.invocationId);
    if (request.executionId !== "")
      command.tag(EXECUTE.executionId, WireType.LengthDelimited).string(request.executionId);
    for (const step of request.steps) writeStep(command, step, this.blobs, this.receiver);
    command.join();
    this.writer.tag(SESSION_REQUEST.commands, WireType.LengthDelimited).bytes(command.finish());
    this.count++;
  }

  cancel(invocationId: number, reason: string, graceMs: number): void {
    const writer = this.writer.tag(SESSION_REQUEST.commands, WireType.LengthDelimited).fork();
    writer.tag(COMMAND.cancel, WireType.LengthDelimited).fork();
    if (invocationId !== 0) writer.tag(CANCEL.invocationId, WireType.Varint).uint64(invocationId);
    if (reason !== "") writer.tag(CANCEL.reason, WireType.LengthDelimited).string(reason);
    if (graceMs !== 0) writer.tag(CANCEL.graceMs, WireType.Varint).uint32(graceMs);
    writer.join().join();
    this.count++;
  }

  /** Adds a `Credit` command: the step may send `credits` more items on its stream output `port`. */
  credit(invocationId: number, step: number, port: string, credits: number): void {
    const writer = this.writer.tag(SESSION_REQUEST.commands, WireType.LengthDelimited).fork();
    writer.tag(COMMAND.credit, WireType.LengthDelimited).fork();
    writeCredit(writer, invocationId, step, port, credits);
    writer.join().join();
    this.count++;
  }

  /**
   * Adds a `StreamItems` command. An item that is an {@link EncodedValue} (from another runtime) is written as it
   * came, never decoded; a live item (from the host's own process) is encoded here. Throws a ValueError when an
   * item cannot be encoded (nothing is added then).
   */
  streamItems(
    invocationId: number,
    step: number,
    port: string,
    items: readonly unknown[],
    end: boolean,
    failure?: FailureInfo,
  ): void {
    const encoded = items.map((item) => encodeValue(item, this.blobs));
    const writer = this.writer.tag(SESSION_REQUEST.commands, WireType.LengthDelimited).fork();
    writer.tag(COMMAND.streamItems, WireType.LengthDelimited).fork();
    if (invocationId !== 0) writer.tag(STREAM_ITEMS.invocationId, WireType.Varint).uint64(invocationId);
    if (step !== 0) writer.tag(STREAM_ITEMS.step, WireType.Varint).uint32(step);
    if (port !== "") writer.tag(STREAM_ITEMS.port, WireType.LengthDelimited).string(port);
    for (const item of encoded) {
      writer.tag(STREAM_ITEMS.items, WireType.LengthDelimited).fork();
      writeValueFields(writer, item);
      writer.join();
    }
    if (end) writer.tag(STREAM_ITEMS.end, WireType.Varint).bool(true);
    if (failure !== undefined)
      writer
        .tag(STREAM_ITEMS.failure, WireType.LengthDelimited)
        .bytes(toBinary(FailureSchema, failureToWire(failure)));
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

function writeStep(
  writer: BinaryWriter,
  step: StepRequest,
  blobs: BlobOptions,
  receiver: ReceiverFeatures | undefined,
): void {
  writer.tag(EXECUTE.steps, WireType.LengthDelimited).fork();
  if (step.nodeId !== "") writer.tag(STEP.nodeId, WireType.LengthDelimited).string(step.nodeId);
  if (step.nodeType !== "") writer.tag(STEP.nodeType, WireType.LengthDelimited).string(step.nodeType);
  if (step.attempt !== 0) writer.tag(STEP.attempt, WireType.Varint).uint32(step.attempt);
  writer.tag(STEP.config, WireType.LengthDelimited).fork();
  writeValueFields(
    writer,
    step.config instanceof EncodedValue ? step.config.wire : encodeConfig(step.config),
  );
  writer.join();
  for (const port in step.inputs) {
    const input = step.inputs[port]!;
    writer.tag(STEP.inputs, WireType.LengthDelimited).fork();
    writer.tag(MAP_ENTRY.key, WireType.LengthDelimited).string(port);
    writer.tag(MAP_ENTRY.value, WireType.LengthDelimited).fork();
    if ("step" in input) {
      writer.tag(INPUT.stepOutput, WireType.LengthDelimited).fork();
      if (input.step !== 0) writer.tag(STEP_OUTPUT.step, WireType.Varint).uint32(input.step);
      if (input.port !== "") writer.tag(STEP_OUTPUT.port, WireType.LengthDelimited).string(input.port);
      writer.join();
    } else if ("stream" in input) {
      writer.tag(INPUT.stream, WireType.LengthDelimited).fork();
      if (input.stream.nodeId !== "")
        writer.tag(STREAM_SOURCE.nodeId, WireType.LengthDelimited).string(input.stream.nodeId);
      if (input.stream.port !== "")
        writer.tag(STREAM_SOURCE.port, WireType.LengthDelimited).string(input.stream.port);
      writer.join();
    } else {
      writer.tag(INPUT.value, WireType.LengthDelimited).fork();
      const value = encodeValue(input.value, blobs);
      writeValueFields(
        writer,
        receiver === undefined
          ? value
          : valueForReceiver(value, receiver, `input "${port}" of node "${step.nodeId}" (${step.nodeType})`),
      );
      writer.join();
    }
    writer.join().join();
  }
  if (step.timeoutMs !== 0) writer.tag(STEP.timeoutMs, WireType.Varint).uint32(step.timeoutMs);
  if (step.traceparent !== undefined && step.traceparent !== "")
    writer.tag(STEP.traceparent, WireType.LengthDelimited).string(step.traceparent);
  if (step.tracestate !== undefined && step.tracestate !== "")
    writer.tag(STEP.tracestate, WireType.LengthDelimited).string(step.tracestate);
  for (const port in step.resume) {
    const resume = step.resume[port]!;
    writer.tag(STEP.resume, WireType.LengthDelimited).fork();
    if (port !== "") writer.tag(STREAM_RESUME.port, WireType.LengthDelimited).string(port);
    if (resume.offset !== 0) writer.tag(STREAM_RESUME.offset, WireType.Varint).uint64(resume.offset);
    writer.tag(STREAM_RESUME.state, WireType.LengthDelimited).fork();
    // A state a runtime sent with its checkpoint goes back to it as it came.
    writeValueFields(
      writer,
      resume.state instanceof EncodedValue ? resume.state.wire : encodeValue(resume.state),
    );
    writer.join().join();
  }
  writer.join();
}

/** Writes the fields of a `Credit` (not its tag or length). */
export function writeCredit(
  writer: BinaryWriter,
  invocationId: number,
  step: number,
  port: string,
  credits: number,
): void {
  if (invocationId !== 0) writer.tag(CREDIT.invocationId, WireType.Varint).uint64(invocationId);
  if (step !== 0) writer.tag(CREDIT.step, WireType.Varint).uint32(step);
  if (port !== "") writer.tag(CREDIT.port, WireType.LengthDelimited).string(port);
  if (credits !== 0) writer.tag(CREDIT.credits, WireType.Varint).uint32(credits);
}

/** Config objects are usually shared by every run of a blueprint: encode each once. */
const encodedConfigs = new WeakMap<object, Value>();

function encodeConfig(config: unknown): Value {
  if (typeof config !== "object" || config === null) return encodeValue(config ?? {});
  let value = encodedConfigs.get(config);
  if (value === undefined) {
    value = encodeValue(config);
    encodedConfigs.set(config, value);
  }
  return value;
}

/** Decodes a `SessionRequest` into commands; values stay encoded. */
export function decodeSessionRequest(bytes: Uint8Array): SessionCommand[] {
  const reader = new BinaryReader(bytes);
  const commands: SessionCommand[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field !== SESSION_REQUEST.commands || wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, field);
      continue;
    }
    const command = readCommand(reader);
    if (command !== undefined) commands.push(command);
  }
  return commands;
}

/** One `Command`; the last member of its oneof wins, and a member that occurs twice is merged. */
function readCommand(reader: BinaryReader): SessionCommand | undefined {
  const end = reader.uint32() + reader.pos;
  let command: SessionCommand | undefined;
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (field === COMMAND.execute && wireType === WireType.LengthDelimited) {
      const previous = command?.kind === "execute" ? command.request : undefined;
      command = { kind: "execute", request: readExecute(reader, previous) };
    } else if (field === COMMAND.cancel && wireType === WireType.LengthDelimited) {
      command = readCancel(reader, command?.kind === "cancel" ? command : undefined);
    } else if (field === COMMAND.credit && wireType === WireType.LengthDelimited) {
      const previous =
        command?.kind === "credit"
          ? command
          : { kind: "credit" as const, invocationId: 0, step: 0, port: "", credits: 0 };
      command = readCredit(reader, previous);
    } else if (field === COMMAND.streamItems && wireType === WireType.LengthDelimited) {
      command = readStreamItems(reader, command?.kind === "streamItems" ? command : undefined);
    } else reader.skip(wireType, field);
  }
  return command;
}

function readExecute(reader: BinaryReader, previous: InvocationRequest | undefined): InvocationRequest {
  const end = reader.uint32() + reader.pos;
  const request: InvocationRequest = previous ?? { invocationId: 0, executionId: "", steps: [] };
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (field === EXECUTE.invocationId && wireType === WireType.Varint)
      request.invocationId = Number(reader.uint64());
    else if (field === EXECUTE.executionId && wireType === WireType.LengthDelimited)
      request.executionId = reader.string();
    else if (field === EXECUTE.steps && wireType === WireType.LengthDelimited)
      request.steps.push(readStep(reader));
    else reader.skip(wireType, field);
  }
  return request;
}

function readStep(reader: BinaryReader): StepRequest {
  const end = reader.uint32() + reader.pos;
  const step: StepRequest = { nodeId: "", nodeType: "", attempt: 0, config: {}, inputs: {}, timeoutMs: 0 };
  let config: Value | undefined;
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (wireType === WireType.Varint) {
      if (field === STEP.attempt) step.attempt = reader.uint32();
      else if (field === STEP.timeoutMs) step.timeoutMs = reader.uint32();
      else reader.skip(wireType, field);
      continue;
    }
    if (wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, field);
      continue;
    }
    switch (field) {
      case STEP.nodeId:
        step.nodeId = reader.string();
        break;
      case STEP.nodeType:
        step.nodeType = reader.string();
        break;
      case STEP.traceparent:
        step.traceparent = reader.string();
        break;
      case STEP.tracestate:
        step.tracestate = reader.string();
        break;
      case STEP.resume: {
        const [port, resume] = readStreamResume(reader);
        step.resume = { ...step.resume, [port]: resume };
        break;
      }
      case STEP.config:
        config = readValue(reader, config);
        break;
      case STEP.inputs: {
        const entryEnd = reader.uint32() + reader.pos;
        let port = "";
        let input: StepInput | undefined;
        while (reader.pos < entryEnd) {
          const [entryField, entryWire] = reader.tag();
          if (entryField === MAP_ENTRY.key && entryWire === WireType.LengthDelimited) port = reader.string();
          else if (entryField === MAP_ENTRY.value && entryWire === WireType.LengthDelimited)
            input = readInput(reader, input);
          else reader.skip(entryWire, entryField);
        }
        // Because protobuf gives a map entry without a value the empty message, and an Input with neither a value
        // nor a step output carries nothing to run with, such an entry is left out.
        if (input !== undefined) step.inputs[port] = input;
        break;
      }
      default:
        reader.skip(wireType, field);
    }
  }
  if (config !== undefined) step.config = new EncodedValue(config);
  return step;
}

/** A `StreamResume`: its port, and where and with what state the stream resumes (the state decoded). */
function readStreamResume(reader: BinaryReader): [string, { offset: number; state: unknown }] {
  const end = reader.uint32() + reader.pos;
  let port = "";
  let offset = 0;
  let state: Value | undefined;
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (field === STREAM_RESUME.port && wireType === WireType.LengthDelimited) port = reader.string();
    else if (field === STREAM_RESUME.offset && wireType === WireType.Varint) offset = Number(reader.uint64());
    else if (field === STREAM_RESUME.state && wireType === WireType.LengthDelimited)
      state = readValue(reader, state);
    else reader.skip(wireType, field);
  }
  return [port, { offset, state: state === undefined ? null : decodeValue(state) }];
}

/** An `Input`; `previous` is what an earlier occurrence of the same map value gave (merged, as protobuf does). */
function readInput(reader: BinaryReader, previous: StepInput | undefined): StepInput | undefined {
  const end = reader.uint32() + reader.pos;
  let input = previous;
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (field === INPUT.value && wireType === WireType.LengthDelimited) {
      const earlier =
        input !== undefined && "value" in input ? (input.value as EncodedValue).wire : undefined;
      input = { value: new EncodedValue(readValue(reader, earlier)) };
    } else if (field === INPUT.stepOutput && wireType === WireType.LengthDelimited) {
      const outputEnd = reader.uint32() + reader.pos;
      const output = input !== undefined && "step" in input ? input : { step: 0, port: "" };
      while (reader.pos < outputEnd) {
        const [outputField, outputWire] = reader.tag();
        if (outputField === STEP_OUTPUT.step && outputWire === WireType.Varint) output.step = reader.uint32();
        else if (outputField === STEP_OUTPUT.port && outputWire === WireType.LengthDelimited)
          output.port = reader.string();
        else reader.skip(outputWire, outputField);
      }
      input = output;
    } else if (field === INPUT.stream && wireType === WireType.LengthDelimited) {
      const sourceEnd = reader.uint32() + reader.pos;
      const stream = input !== undefined && "stream" in input ? input.stream : { nodeId: "", port: "" };
      while (reader.pos < sourceEnd) {
        const [sourceField, sourceWire] = reader.tag();
        if (sourceField === STREAM_SOURCE.nodeId && sourceWire === WireType.LengthDelimited)
          stream.nodeId = reader.string();
        else if (sourceField === STREAM_SOURCE.port && sourceWire === WireType.LengthDelimited)
          stream.port = reader.string();
        else reader.skip(sourceWire, sourceField);
      }
      input = { stream };
    } else reader.skip(wireType, field);
  }
  return input;
}

/** Reads a length-prefixed `Credit` into `credit` (the command's, or an event's). */
export function readCredit<
  Target extends { invocationId: number; step: number; port: string; credits: number },
>(reader: BinaryReader, credit: Target): Target {
  const end = reader.uint32() + reader.pos;
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (field === CREDIT.invocationId && wireType === WireType.Varint)
      credit.invocationId = Number(reader.uint64());
    else if (field === CREDIT.step && wireType === WireType.Varint) credit.step = reader.uint32();
    else if (field === CREDIT.port && wireType === WireType.LengthDelimited) credit.port = reader.string();
    else if (field === CREDIT.credits && wireType === WireType.Varint) credit.credits = reader.uint32();
    else reader.skip(wireType, field);
  }
  return credit;
}

/** The wire form of a decoded command's failure, so that a second occurrence merges into it as protobuf does. */
const wireFailures = new WeakMap<StreamItemsCommand, Failure>();

function readStreamItems(reader: BinaryReader, previous: StreamItemsCommand | undefined): StreamItemsCommand {
  const end = reader.uint32() + reader.pos;
  const command: StreamItemsCommand = previous ?? {
    kind: "streamItems",
    invocationId: 0,
    step: 0,
    port: "",
    items: [],
    end: false,
  };
  let failure = wireFailures.get(command);
  let failureRead = false;
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (field === STREAM_ITEMS.invocationId && wireType === WireType.Varint)
      command.invocationId = Number(reader.uint64());
    else if (field === STREAM_ITEMS.step && wireType === WireType.Varint) command.step = reader.uint32();
    else if (field === STREAM_ITEMS.port && wireType === WireType.LengthDelimited)
      command.port = reader.string();
    else if (field === STREAM_ITEMS.items && wireType === WireType.LengthDelimited)
      command.items.push(new EncodedValue(readValue(reader)));
    else if (field === STREAM_ITEMS.end && wireType === WireType.Varint) command.end = reader.bool();
    else if (field === STREAM_ITEMS.failure && wireType === WireType.LengthDelimited) {
      const bytes = reader.bytes();
      failure =
        failure === undefined
          ? fromBinary(FailureSchema, bytes)
          : mergeFromBinary(FailureSchema, failure, bytes);
      failureRead = true;
    } else reader.skip(wireType, field);
  }
  if (failureRead) {
    wireFailures.set(command, failure!);
    command.failure = failureFromWire(failure!);
  }
  return command;
}

function readCancel(
  reader: BinaryReader,
  previous: Extract<SessionCommand, { kind: "cancel" }> | undefined,
): SessionCommand {
  const end = reader.uint32() + reader.pos;
  const cancel = previous ?? { kind: "cancel" as const, invocationId: 0, reason: "", graceMs: 0 };
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (field === CANCEL.invocationId && wireType === WireType.Varint)
      cancel.invocationId = Number(reader.uint64());
    else if (field === CANCEL.reason && wireType === WireType.LengthDelimited)
      cancel.reason = reader.string();
    else if (field === CANCEL.graceMs && wireType === WireType.Varint) cancel.graceMs = reader.uint32();
    else reader.skip(wireType, field);
  }
  return cancel;
}
