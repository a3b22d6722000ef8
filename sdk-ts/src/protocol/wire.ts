import { create, type MessageInitShape } from "@bufbuild/protobuf";
import {
  type Event,
  EventSchema,
  type Execute,
  ExecuteSchema,
  type Input,
  InputSchema,
  Log_Level,
  type Step,
  StepSchema,
} from "../gen/conductor/runtime/v1/runtime_pb.js";
import { type FailureInfo, failureToWire } from "./failure.js";
import type { InvocationRequest, InvocationSink, LogLevel, StepInput, StepRequest } from "./invocation.js";
import { type BlobOptions, EncodedValue, encodeJsonValue, encodeValue } from "./value-codec.js";

/**
 * Maps between the in-memory invocation types and the ABI messages. Values arriving from the wire stay
 * {@link EncodedValue}s until a node needs them.
 */

const textEncoder = new TextEncoder();

/** Encodes an invocation as an `Execute` command. */
export function executeToWire(request: InvocationRequest, blobs: BlobOptions): Execute {
  return create(ExecuteSchema, {
    invocationId: BigInt(request.invocationId),
    executionId: request.executionId,
    steps: request.steps.map((step) => stepToWire(step, blobs)),
  });
}

function stepToWire(step: StepRequest, blobs: BlobOptions): Step {
  const inputs: Record<string, Input> = {};
  for (const port in step.inputs) {
    const input = step.inputs[port]!;
    inputs[port] =
      "step" in input
        ? create(InputSchema, {
            source: { case: "stepOutput", value: { step: input.step, port: input.port } },
          })
        : create(InputSchema, { source: { case: "value", value: encodeValue(input.value, blobs) } });
  }
  return create(StepSchema, {
    nodeId: step.nodeId,
    nodeType: step.nodeType,
    attempt: step.attempt,
    config: encodeJsonValue(step.config ?? {}),
    inputs,
    timeoutMs: step.timeoutMs,
  });
}

/** Decodes an `Execute` command; values stay encoded until used. */
export function executeFromWire(execute: Execute): InvocationRequest {
  return {
    invocationId: Number(execute.invocationId),
    executionId: execute.executionId,
    steps: execute.steps.map((step) => {
      const inputs: Record<string, StepInput> = {};
      for (const port in step.inputs) {
        const source = step.inputs[port]!.source;
        if (source.case === "stepOutput") inputs[port] = { step: source.value.step, port: source.value.port };
        else if (source.case === "value") inputs[port] = { value: new EncodedValue(source.value) };
      }
      return {
        nodeId: step.nodeId,
        nodeType: step.nodeType,
        attempt: step.attempt,
        config: step.config === undefined ? {} : new EncodedValue(step.config),
        inputs,
        timeoutMs: step.timeoutMs,
      };
    }),
  };
}

const LOG_LEVELS: Record<LogLevel, Log_Level> = {
  debug: Log_Level.DEBUG,
  info: Log_Level.INFO,
  warn: Log_Level.WARN,
  error: Log_Level.ERROR,
};

/** Level names by wire level. */
export const LOG_LEVEL_NAMES: Record<number, LogLevel> = {
  [Log_Level.DEBUG]: "debug",
  [Log_Level.INFO]: "info",
  [Log_Level.WARN]: "warn",
  [Log_Level.ERROR]: "error",
};

/**
 * An {@link InvocationSink} that turns events into ABI `Event`s and hands them to `emit`. The serving side uses it
 * to put a runtime's events on the session stream.
 */
export function createWireSink(
  invocationId: bigint,
  blobs: BlobOptions,
  emit: (event: Event) => void,
): InvocationSink {
  const event = (step: number, kind: NonNullable<MessageInitShape<typeof EventSchema>["kind"]>) =>
    create(EventSchema, { invocationId, step, kind });
  const encodeOutputs = (outputs: Record<string, unknown>) => {
    const encoded: Record<string, import("../gen/conductor/runtime/v1/runtime_pb.js").Value> = {};
    for (const port in outputs) encoded[port] = encodeValue(outputs[port], blobs);
    return encoded;
  };
  const failed = (step: number, failure: FailureInfo, durationUs: number) =>
    emit(
      event(step, {
        case: "failed",
        value: { failure: failureToWire(failure), durationUs: BigInt(durationUs) },
      }),
    );
  return {
    started: (step) => emit(event(step, { case: "started", value: {} })),
    log: (step, level, message, fields) =>
      emit(
        event(step, {
          case: "log",
          value: {
            level: LOG_LEVELS[level],
            message,
            fieldsJson: fields === undefined ? new Uint8Array() : textEncoder.encode(JSON.stringify(fields)),
          },
        }),
      ),
    progress: (step, fraction, message) =>
      emit(event(step, { case: "progress", value: { fraction, message } })),
    chunk: (step, port, value) =>
      emit(event(step, { case: "chunk", value: { port, value: encodeValue(value, blobs) } })),
    heartbeat: (step, details) =>
      emit(
        event(step, {
          case: "heartbeat",
          value: details === undefined ? {} : { details: encodeValue(details, blobs) },
        }),
      ),
    completed: (step, outputs, durationUs) => {
      let encoded: ReturnType<typeof encodeOutputs>;
      try {
        encoded = encodeOutputs(outputs);
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
      emit(event(step, { case: "completed", value: { outputs: encoded, durationUs: BigInt(durationUs) } }));
    },
    failed,
    cancelled: (step, reason) => emit(event(step, { case: "cancelled", value: { reason } })),
    rejected: (failure) => emit(event(0, { case: "rejected", value: { failure: failureToWire(failure) } })),
  };
}
