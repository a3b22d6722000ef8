import type { FailureInfo } from "./failure.js";

/**
 * The in-memory form of the ABI's `Execute` command. The in-process transport hands it to a runtime as is; the
 * gRPC transport encodes it as `conductor.runtime.v1.Execute`. Values are live (or {@link EncodedValue}s that the
 * runtime decodes when a node needs them), never re-encoded inside one process.
 */
export interface InvocationRequest {
  invocationId: number;
  executionId: string;
  steps: StepRequest[];
}

/** One node to run, in the order given. */
export interface StepRequest {
  nodeId: string;
  nodeType: string;
  /** 1 for the first attempt. */
  attempt: number;
  config: unknown;
  inputs: Record<string, StepInput>;
  /** Time budget for this step in milliseconds, 0 for none. */
  timeoutMs: number;
  /**
   * W3C trace context of the host's span for this node attempt, absent when tracing is off: the parent of the spans
   * the node's code creates with the OpenTelemetry API (docs/telemetry.md).
   */
  traceparent?: string;
  tracestate?: string;
  /**
   * The same trace context as an OpenTelemetry `Context`, so that a runtime in the host's own process need not parse
   * `traceparent` again; in-process only, never on the wire. A step for the host's own runtimes carries only this
   * (its traceparent is not formatted, since nothing is sent).
   */
  traceContext?: unknown;
  /**
   * The worker labels the node requires (blueprint `runsOn`): a remote runtime sends it to a worker that has them
   * all (docs/distributed.md). In-process only, never on the wire.
   */
  runsOn?: readonly string[];
  /**
   * Where a retry of a producer resumes its stream outputs, by port, from its last checkpoint (docs/streaming.md,
   * "Checkpoints"); `Step.resume` on the wire.
   */
  resume?: Readonly<Record<string, { readonly offset: number; readonly state: unknown }>>;
}

/**
 * A value given by the host, or the output of an earlier step of the same invocation. `checked`: the host proved
 * the value valid for this port (the producer checked it against an output schema the validator proved the port
 * accepts), so the runtime need not check it again; in-process only, never on the wire.
 */
export type StepInput =
  | { value: unknown; checked?: boolean }
  | { step: number; port: string }
  | { stream: StreamSourceRef };

/**
 * A stream input on the wire (`Input.stream`, docs/protocol.md §3.5): the stream output it reads, named for
 * messages; its items come later in `StreamItems` commands.
 */
export interface StreamSourceRef {
  nodeId: string;
  port: string;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * Receives the events of one invocation, in order. Each step ends with exactly one of `completed`, `failed` or
 * `cancelled`; when a step fails or is cancelled the later steps get no events. `rejected` means nothing ran.
 * A method per event (instead of event objects) keeps the in-process path free of allocations.
 */
export interface InvocationSink {
  started(step: number): void;
  log(step: number, level: LogLevel, message: string, fields: Record<string, unknown> | undefined): void;
  progress(step: number, fraction: number, message: string): void;
  chunk(step: number, port: string, value: unknown): void;
  heartbeat(step: number, details: unknown): void;
  completed(step: number, outputs: Record<string, unknown>, durationUs: number): void;
  failed(step: number, failure: FailureInfo, durationUs: number): void;
  cancelled(step: number, reason: string): void;
  rejected(failure: FailureInfo): void;
  /**
   * The step is ready for `credits` more items of its stream input `port` (`Event.credit`, docs/protocol.md §3.5).
   * Optional: only the session's transports and sinks that read stream inputs implement it.
   */
  credit?(step: number, port: string, credits: number): void;
  /**
   * The step marked a checkpoint in its stream output `port`, after the items it sent on it so far, from which a
   * retry can resume with `state` (`Event.checkpoint`, docs/protocol.md §3.5). Optional, as `credit`.
   */
  checkpoint?(step: number, port: string, state: unknown): void;
}

/** What a runtime tells the host about itself in the handshake. */
export interface RuntimeDescription {
  abiVersion: number;
  name: string;
  language: string;
  version: string;
  pid: number;
  features: string[];
  maxConcurrency: number;
  maxMessageBytes: number;
  schemaHash: string;
}

/** How an invocation step ended, for {@link observeSink}. */
export type StepEnd = "completed" | "failed" | "cancelled" | "rejected";

/**
 * Wraps a sink so that `onStarted` and `onEnd` run before each start and each terminal event is delivered, every
 * other call passing straight through. Works for sinks that are class instances (a spread would lose their
 * prototype methods).
 */
export function observeSink(
  sink: InvocationSink,
  hooks: { onStarted?(step: number): void; onEnd(step: number, end: StepEnd): void },
): InvocationSink {
  return {
    started(step) {
      hooks.onStarted?.(step);
      sink.started(step);
    },
    log: (step, level, message, fields) => sink.log(step, level, message, fields),
    progress: (step, fraction, message) => sink.progress(step, fraction, message),
    chunk: (step, port, value) => sink.chunk(step, port, value),
    heartbeat: (step, details) => sink.heartbeat(step, details),
    completed(step, outputs, durationUs) {
      hooks.onEnd(step, "completed");
      sink.completed(step, outputs, durationUs);
    },
    failed(step, failure, durationUs) {
      hooks.onEnd(step, "failed");
      sink.failed(step, failure, durationUs);
    },
    cancelled(step, reason) {
      hooks.onEnd(step, "cancelled");
      sink.cancelled(step, reason);
    },
    rejected(failure) {
      hooks.onEnd(0, "rejected");
      sink.rejected(failure);
    },
    credit: (step, port, credits) => sink.credit?.(step, port, credits),
    checkpoint: (step, port, state) => sink.checkpoint?.(step, port, state),
  };
}
