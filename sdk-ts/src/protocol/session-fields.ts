import type { DescMessage } from "@bufbuild/protobuf";
import {
  BlobRefSchema,
  CancelledSchema,
  CancelSchema,
  ChunkSchema,
  CommandSchema,
  CompletedSchema,
  CreditSchema,
  EventSchema,
  ExecuteSchema,
  FailedSchema,
  HeartbeatSchema,
  InputSchema,
  LogSchema,
  ProgressSchema,
  RejectedSchema,
  SessionRequestSchema,
  SessionResponseSchema,
  StepOutputSchema,
  StepSchema,
  StreamCheckpointSchema,
  StreamItemsSchema,
  StreamResumeSchema,
  StreamSourceSchema,
  ValueSchema,
} from "../gen/conductor/runtime/v1/runtime_pb.js";

/**
 * The field numbers the hand-written session codec reads and writes, taken from the generated descriptors of
 * `runtime.proto` rather than copied by hand, so that the codec and the proto file cannot disagree. Looking up a
 * field that the proto no longer has throws when this module loads, which every codec test catches at once.
 */
function numbers<const Names extends readonly string[]>(
  schema: DescMessage,
  names: Names,
): Readonly<Record<Names[number], number>> {
  const result: Record<string, number> = {};
  for (const name of names) {
    const field = schema.fields.find((candidate) => candidate.localName === name);
    if (field === undefined) {
      throw new Error(
        `${schema.typeName} has no field "${name}"; the session codec must follow runtime.proto`,
      );
    }
    result[name] = field.number;
  }
  return result as Record<Names[number], number>;
}

/** Field numbers of the messages the host sends on the session. */
export const REQUEST = {
  sessionRequest: numbers(SessionRequestSchema, ["commands"]),
  command: numbers(CommandSchema, ["execute", "cancel", "credit", "streamItems"]),
  execute: numbers(ExecuteSchema, ["invocationId", "executionId", "steps"]),
  step: numbers(StepSchema, [
    "nodeId",
    "nodeType",
    "attempt",
    "config",
    "inputs",
    "timeoutMs",
    "traceparent",
    "tracestate",
    "resume",
  ]),
  streamResume: numbers(StreamResumeSchema, ["port", "offset", "state"]),
  input: numbers(InputSchema, ["value", "stepOutput", "stream"]),
  stepOutput: numbers(StepOutputSchema, ["step", "port"]),
  streamSource: numbers(StreamSourceSchema, ["nodeId", "port"]),
  cancel: numbers(CancelSchema, ["invocationId", "reason", "graceMs"]),
  streamItems: numbers(StreamItemsSchema, ["invocationId", "step", "port", "items", "end", "failure"]),
} as const;

/** Field numbers of the messages a runtime sends on the session. */
export const RESPONSE = {
  sessionResponse: numbers(SessionResponseSchema, ["events"]),
  event: numbers(EventSchema, [
    "invocationId",
    "step",
    "started",
    "log",
    "progress",
    "chunk",
    "heartbeat",
    "completed",
    "failed",
    "cancelled",
    "rejected",
    "credit",
    "checkpoint",
  ]),
  checkpoint: numbers(StreamCheckpointSchema, ["port", "state"]),
  log: numbers(LogSchema, ["level", "message", "fieldsJson"]),
  progress: numbers(ProgressSchema, ["fraction", "message"]),
  chunk: numbers(ChunkSchema, ["port", "value"]),
  heartbeat: numbers(HeartbeatSchema, ["details"]),
  completed: numbers(CompletedSchema, ["outputs", "durationUs"]),
  failed: numbers(FailedSchema, ["failure", "durationUs"]),
  cancelled: numbers(CancelledSchema, ["reason"]),
  rejected: numbers(RejectedSchema, ["failure"]),
} as const;

/** Field numbers of `Credit`, which both directions carry (a command for outputs, an event for inputs). */
export const CREDIT = numbers(CreditSchema, ["invocationId", "step", "port", "credits"]);

/** Field numbers of `Value` and `BlobRef`, which both directions carry. */
export const VALUE = numbers(ValueSchema, ["json", "raw", "arrow", "blob"]);
export const BLOB = numbers(BlobRefSchema, ["uri", "size", "sha256", "encoding"]);

/** The members of `Event.kind`, by field number. */
export const EVENT_KINDS: ReadonlySet<number> = new Set(
  EventSchema.oneofs.find((oneof) => oneof.name === "kind")!.fields.map((field) => field.number),
);

/** A map entry's key and value fields: fixed by the protobuf encoding of `map<K, V>`, not by any proto file. */
export const MAP_ENTRY = { key: 1, value: 2 } as const;
