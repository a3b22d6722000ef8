import { create } from "@bufbuild/protobuf";
import { type Failure, FailureSchema } from "../gen/conductor/runtime/v1/runtime_pb.js";
import { decodeValue, encodeJsonValue } from "./value-codec.js";

/**
 * A node failure as plain data: the in-memory form of the ABI's `Failure` message, identical for every language.
 * Use {@link toFailureInfo} to turn anything thrown into one.
 */
export interface FailureInfo {
  message: string;
  /** A short classifier, e.g. "TypeError", "http.status", "runtime.lost". */
  type: string;
  /** Whether trying again may succeed. */
  retryable: boolean;
  details?: unknown;
  stack?: string;
  cause?: FailureInfo;
  /** A delay the node suggests before the next attempt. */
  retryDelayMs?: number;
  /** The blueprint node it happened in, when known (runtimes may leave it out: the host knows the step). */
  nodeId?: string;
}

const failureInfoBrand = Symbol.for("conductor.failure-info");

/** Marks an object as already being a {@link FailureInfo}, so {@link toFailureInfo} passes it through. */
export function isFailureCarrier(value: unknown): value is { toFailureInfo(): FailureInfo } {
  return typeof value === "object" && value !== null && failureInfoBrand in value;
}

export { failureInfoBrand };

/**
 * Converts anything a node threw into a {@link FailureInfo}. Errors that know their failure form (NodeFailure)
 * give it; any other error becomes a retryable failure typed by its class name, because an unexpected error may
 * be transient and the node's retry policy bounds the attempts.
 */
export function toFailureInfo(thrown: unknown, depth = 0): FailureInfo {
  if (isFailureCarrier(thrown)) return thrown.toFailureInfo();
  if (thrown instanceof Error) {
    const info: FailureInfo = {
      message: thrown.message,
      type: thrown.name || thrown.constructor.name || "Error",
      retryable: true,
    };
    if (thrown.stack !== undefined) info.stack = thrown.stack;
    if (thrown.cause !== undefined && depth < 8) info.cause = toFailureInfo(thrown.cause, depth + 1);
    return info;
  }
  return { message: String(thrown), type: "thrown", retryable: true };
}

/** Encodes a {@link FailureInfo} as the ABI message. */
export function failureToWire(info: FailureInfo): Failure {
  const failure = create(FailureSchema, {
    message: info.message,
    type: info.type,
    retryable: info.retryable,
    stack: info.stack ?? "",
    retryDelayMs: info.retryDelayMs ?? 0,
    nodeId: info.nodeId ?? "",
  });
  if (info.details !== undefined) failure.details = encodeJsonValue(info.details);
  if (info.cause !== undefined) failure.cause = failureToWire(info.cause);
  return failure;
}

/** Decodes the ABI message into a {@link FailureInfo}; a details value that is not JSON is kept encoded. */
export function failureFromWire(failure: Failure): FailureInfo {
  const info: FailureInfo = { message: failure.message, type: failure.type, retryable: failure.retryable };
  if (failure.details !== undefined && failure.details.kind.case !== undefined) {
    info.details = decodeValue(failure.details);
  }
  if (failure.stack !== "") info.stack = failure.stack;
  if (failure.cause !== undefined) info.cause = failureFromWire(failure.cause);
  if (failure.retryDelayMs > 0) info.retryDelayMs = failure.retryDelayMs;
  if (failure.nodeId !== "") info.nodeId = failure.nodeId;
  return info;
}
