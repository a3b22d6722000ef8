import { fromBinary, mergeFromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  type Failure,
  FailureSchema,
  Log_Level,
  type Value,
} from "../gen/conductor/runtime/v1/runtime_pb.js";
import { type FailureInfo, failureFromWire, failureToWire } from "./failure.js";
import type { InvocationSink, LogLevel } from "./invocation.js";
import { parseJsonText } from "./json-text.js";
import { CREDIT, EVENT_KINDS, MAP_ENTRY, RESPONSE } from "./session-fields.js";
import { writeCredit } from "./session-request-codec.js";
import { type BlobOptions, EncodedValue, encodeValue } from "./value-codec.js";
import { emptyValue, readValue, writeValueFields } from "./value-wire.js";

/**
 * A hand-written codec for `SessionResponse`, the hot message from runtime to host: events are written straight
 * from sink calls to bytes and read straight into sink calls, with no intermediate message objects, producing and
 * reading exactly the bytes protobuf-es does (session-codec.test.ts checks both ways, on random messages in any
 * field order; bench/src/scenarios/codec.ts measures the gain in the same run). Field numbers come from the
 * generated descriptors (session-fields.ts).
 *
 * Reading follows protobuf's rules, whatever order the fields come in: an event is routed to its invocation only
 * once the whole event is read (its ids may follow its kind), the last member of a oneof wins, a message field
 * that occurs twice is merged, and unknown fields are skipped.
 */

const { sessionResponse: SESSION_RESPONSE, event: EVENT } = RESPONSE;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

const { log: LOG, progress: PROGRESS, chunk: CHUNK, heartbeat: HEARTBEAT, checkpoint: CHECKPOINT } = RESPONSE;
const { completed: COMPLETED, failed: FAILED, cancelled: CANCELLED, rejected: REJECTED } = RESPONSE;

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
      const writer = this.writer.tag(SESSION_RESPONSE.events, WireType.LengthDelimited).fork();
      if (invocationId !== 0) writer.tag(EVENT.invocationId, WireType.Varint).uint64(invocationId);
      if (step !== 0) writer.tag(EVENT.step, WireType.Varint).uint32(step);
      return writer.tag(kind, WireType.LengthDelimited).fork();
    };
    const end = (terminal: boolean) => {
      this.writer.join().join();
      this.count++;
      onEvent(terminal);
    };
    const failed = (step: number, info: FailureInfo, durationUs: number) => {
      const writer = begin(step, EVENT.failed);
      writer
        .tag(FAILED.failure, WireType.LengthDelimited)
        .bytes(toBinary(FailureSchema, failureToWire(info)));
      if (durationUs !== 0) writer.tag(FAILED.durationUs, WireType.Varint).uint64(durationUs);
      end(true);
    };
    return {
      started: (step) => {
        begin(step, EVENT.started);
        end(false);
      },
      log: (step, level, message, fields) => {
        const writer = begin(step, EVENT.log);
        writer.tag(LOG.level, WireType.Varint).int32(LOG_LEVELS[level]);
        if (message !== "") writer.tag(LOG.message, WireType.LengthDelimited).string(message);
        if (fields !== undefined)
          writer.tag(LOG.fieldsJson, WireType.LengthDelimited).bytes(encodeFields(fields));
        end(false);
      },
      progress: (step, fraction, message) => {
        const writer = begin(step, EVENT.progress);
        // -0 is written, as protobuf-es writes it (only +0 is the default a reader fills in).
        if (!Object.is(fraction, 0)) writer.tag(PROGRESS.fraction, WireType.Bit64).double(fraction);
        if (message !== "") writer.tag(PROGRESS.message, WireType.LengthDelimited).string(message);
        end(false);
      },
      chunk: (step, port, value) => {
        const encoded = encodeValue(value, this.blobs);
        const writer = begin(step, EVENT.chunk);
        if (port !== "") writer.tag(CHUNK.port, WireType.LengthDelimited).string(port);
        writer.tag(CHUNK.value, WireType.LengthDelimited).fork();
        writeValueFields(writer, encoded);
        writer.join();
        end(false);
      },
      checkpoint: (step, port, state) => {
        const encoded = encodeValue(state, this.blobs);
        const writer = begin(step, EVENT.checkpoint);
        if (port !== "") writer.tag(CHECKPOINT.port, WireType.LengthDelimited).string(port);
        writer.tag(CHECKPOINT.state, WireType.LengthDelimited).fork();
        writeValueFields(writer, encoded);
        writer.join();
        end(false);
      },
      heartbeat: (step, details) => {
        const encoded = details === undefined ? undefined : encodeValue(details, this.blobs);
        const writer = begin(step, EVENT.heartbeat);
        if (encoded !== undefined) {
          writer.tag(HEARTBEAT.details, WireType.LengthDelimited).fork();
          writeValueFields(writer, encoded);
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
          failed(
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
          writer.tag(COMPLETED.outputs, WireType.LengthDelimited).fork();
          writer.tag(MAP_ENTRY.key, WireType.LengthDelimited).string(port);
          writer.tag(MAP_ENTRY.value, WireType.LengthDelimited).fork();
          writeValueFields(writer, value);
          writer.join().join();
        }
        if (durationUs !== 0) writer.tag(COMPLETED.durationUs, WireType.Varint).uint64(durationUs);
        end(true);
      },
      failed,
      cancelled: (step, reason) => {
        const writer = begin(step, EVENT.cancelled);
        if (reason !== "") writer.tag(CANCELLED.reason, WireType.LengthDelimited).string(reason);
        end(true);
      },
      rejected: (info) => {
        const writer = begin(0, EVENT.rejected);
        writer
          .tag(REJECTED.failure, WireType.LengthDelimited)
          .bytes(toBinary(FailureSchema, failureToWire(info)));
        end(true);
      },
      credit: (step, port, credits) => {
        // The Credit's own invocation_id and step stay 0 in an event: the event's apply (docs/protocol.md §3.5).
        writeCredit(begin(step, EVENT.credit), 0, 0, port, credits);
        end(false);
      },
    };
  }
}

/** Log fields as JSON text; integers beyond 2^53 (bigint) keep every digit. */
function encodeFields(fields: Record<string, unknown>): Uint8Array {
  const value = encodeValue(fields);
  return value.kind.case === "json" ? value.kind.value : textEncoder.encode("{}");
}

/**
 * Decodes a `SessionResponse` and calls `route(invocationId)`'s sink for each event, in order. Events of unknown
 * invocations (already finished or abandoned) are skipped, and so are events without a kind.
 */
export function dispatchSessionResponse(
  bytes: Uint8Array,
  route: (invocationId: number) => InvocationSink | undefined,
): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field !== SESSION_RESPONSE.events || wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, field);
      continue;
    }
    const end = reader.uint32() + reader.pos;
    dispatchEvent(reader, end, route);
    reader.pos = end;
  }
}

/**
 * Reads one `Event` whole, then routes it. Because the ids may come after the kind, the kind's payload is only
 * located on the way (its byte ranges: one per occurrence, merged in order) and decoded once the sink is known.
 */
function dispatchEvent(
  reader: BinaryReader,
  end: number,
  route: (invocationId: number) => InvocationSink | undefined,
): void {
  let invocationId = 0;
  let step = 0;
  let kind = 0;
  let start = 0;
  let stop = 0;
  // Only a kind that occurs more than once needs a list of its ranges (rare: every encoder writes it once).
  let ranges: number[] | undefined;
  while (reader.pos < end) {
    const [field, wireType] = reader.tag();
    if (field === EVENT.invocationId && wireType === WireType.Varint) invocationId = Number(reader.uint64());
    else if (field === EVENT.step && wireType === WireType.Varint) step = reader.uint32();
    else if (wireType === WireType.LengthDelimited && EVENT_KINDS.has(field)) {
      const length = reader.uint32();
      // The last member of the oneof wins; the same member again is merged into the earlier one.
      if (field === kind) {
        ranges ??= [start, stop];
        ranges.push(reader.pos, reader.pos + length);
      } else {
        kind = field;
        ranges = undefined;
      }
      start = reader.pos;
      stop = reader.pos + length;
      reader.pos = stop;
    } else reader.skip(wireType, field);
  }
  if (kind === 0) return;
  const sink = route(invocationId);
  if (sink === undefined) return;
  if (kind === EVENT.started) sink.started(step);
  else deliver(reader, kind, ranges ?? [start, stop], step, sink);
}

/** Calls `visit` for each field in the given byte ranges of the reader, in order. */
function eachField(
  reader: BinaryReader,
  ranges: readonly number[],
  visit: (field: number, wireType: WireType) => void,
): void {
  for (let r = 0; r < ranges.length; r += 2) {
    reader.pos = ranges[r]!;
    const end = ranges[r + 1]!;
    while (reader.pos < end) {
      const [field, wireType] = reader.tag();
      visit(field, wireType);
    }
  }
}

function deliver(
  reader: BinaryReader,
  kind: number,
  ranges: number[],
  step: number,
  sink: InvocationSink,
): void {
  const skip = (field: number, wireType: WireType) => reader.skip(wireType, field);
  switch (kind) {
    case EVENT.started:
      sink.started(step);
      return;
    case EVENT.log: {
      let level: LogLevel = "info";
      let message = "";
      let fields: Record<string, unknown> | undefined;
      eachField(reader, ranges, (field, wireType) => {
        if (field === LOG.level && wireType === WireType.Varint)
          level = LOG_LEVEL_NAMES[reader.int32()] ?? "info";
        else if (field === LOG.message && wireType === WireType.LengthDelimited) message = reader.string();
        else if (field === LOG.fieldsJson && wireType === WireType.LengthDelimited)
          fields = parseFields(reader.bytes());
        else skip(field, wireType);
      });
      sink.log(step, level, message, fields);
      return;
    }
    case EVENT.progress: {
      let fraction = 0;
      let message = "";
      eachField(reader, ranges, (field, wireType) => {
        if (field === PROGRESS.fraction && wireType === WireType.Bit64) fraction = reader.double();
        else if (field === PROGRESS.message && wireType === WireType.LengthDelimited)
          message = reader.string();
        else skip(field, wireType);
      });
      sink.progress(step, fraction, message);
      return;
    }
    case EVENT.chunk: {
      let port = "";
      let value: Value | undefined;
      eachField(reader, ranges, (field, wireType) => {
        if (field === CHUNK.port && wireType === WireType.LengthDelimited) port = reader.string();
        else if (field === CHUNK.value && wireType === WireType.LengthDelimited)
          value = readValue(reader, value);
        else skip(field, wireType);
      });
      sink.chunk(step, port, new EncodedValue(value ?? emptyValue()));
      return;
    }
    case EVENT.heartbeat: {
      let details: Value | undefined;
      eachField(reader, ranges, (field, wireType) => {
        if (field === HEARTBEAT.details && wireType === WireType.LengthDelimited)
          details = readValue(reader, details);
        else skip(field, wireType);
      });
      sink.heartbeat(step, details === undefined ? undefined : new EncodedValue(details));
      return;
    }
    case EVENT.completed: {
      // The hot event: read without a visitor closure.
      const outputs: Record<string, unknown> = {};
      let durationUs = 0;
      for (let r = 0; r < ranges.length; r += 2) {
        reader.pos = ranges[r]!;
        const end = ranges[r + 1]!;
        while (reader.pos < end) {
          const [field, wireType] = reader.tag();
          if (field === COMPLETED.outputs && wireType === WireType.LengthDelimited) {
            const entryEnd = reader.uint32() + reader.pos;
            let port = "";
            let value: Value | undefined;
            while (reader.pos < entryEnd) {
              const [entryField, entryWire] = reader.tag();
              if (entryField === MAP_ENTRY.key && entryWire === WireType.LengthDelimited)
                port = reader.string();
              else if (entryField === MAP_ENTRY.value && entryWire === WireType.LengthDelimited)
                value = readValue(reader, value);
              else reader.skip(entryWire, entryField);
            }
            outputs[port] = new EncodedValue(value ?? emptyValue());
          } else if (field === COMPLETED.durationUs && wireType === WireType.Varint)
            durationUs = Number(reader.uint64());
          else reader.skip(wireType, field);
        }
      }
      sink.completed(step, outputs, durationUs);
      return;
    }
    case EVENT.failed:
    case EVENT.rejected: {
      const failureField = kind === EVENT.failed ? FAILED.failure : REJECTED.failure;
      let failure: Failure | undefined;
      let durationUs = 0;
      eachField(reader, ranges, (field, wireType) => {
        if (field === failureField && wireType === WireType.LengthDelimited) {
          const bytes = reader.bytes();
          failure =
            failure === undefined
              ? fromBinary(FailureSchema, bytes)
              : mergeFromBinary(FailureSchema, failure, bytes);
        } else if (kind === EVENT.failed && field === FAILED.durationUs && wireType === WireType.Varint)
          durationUs = Number(reader.uint64());
        else skip(field, wireType);
      });
      const info: FailureInfo =
        failure === undefined
          ? {
              message: "the runtime reported a failure without details",
              type: "unknown",
              retryable: kind === EVENT.failed,
            }
          : failureFromWire(failure);
      if (kind === EVENT.failed) sink.failed(step, info, durationUs);
      else sink.rejected(info);
      return;
    }
    case EVENT.checkpoint: {
      let port = "";
      let state: Value | undefined;
      eachField(reader, ranges, (field, wireType) => {
        if (field === CHECKPOINT.port && wireType === WireType.LengthDelimited) port = reader.string();
        else if (field === CHECKPOINT.state && wireType === WireType.LengthDelimited)
          state = readValue(reader, state);
        else skip(field, wireType);
      });
      sink.checkpoint?.(step, port, new EncodedValue(state ?? emptyValue()));
      return;
    }
    case EVENT.credit: {
      let port = "";
      let credits = 0;
      eachField(reader, ranges, (field, wireType) => {
        if (field === CREDIT.port && wireType === WireType.LengthDelimited) port = reader.string();
        else if (field === CREDIT.credits && wireType === WireType.Varint) credits = reader.uint32();
        else skip(field, wireType);
      });
      sink.credit?.(step, port, credits);
      return;
    }
    case EVENT.cancelled: {
      let reason = "";
      eachField(reader, ranges, (field, wireType) => {
        if (field === CANCELLED.reason && wireType === WireType.LengthDelimited) reason = reader.string();
        else skip(field, wireType);
      });
      sink.cancelled(step, reason);
      return;
    }
    default:
      return;
  }
}

function parseFields(bytes: Uint8Array): Record<string, unknown> | undefined {
  if (bytes.byteLength === 0) return undefined;
  try {
    const parsed = parseJsonText(textDecoder.decode(bytes));
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
