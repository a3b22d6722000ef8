import type { FailureInfo, StepRequest } from "@conductor/sdk/protocol";
import type { GraphNode } from "../blueprint/blueprint-graph.js";
import type { ExecutionStatus } from "../scheduler/execution-events.js";

/**
 * The spans of one execution, as the scheduler drives them: one per execution, per runtime dispatch and per node
 * attempt (docs/telemetry.md). The scheduler holds one only when tracing is on, and checks for it once per call
 * site, so that with tracing off nothing is allocated per node. Nodes are named by their index in the graph.
 */
export interface ExecutionTrace {
  /**
   * W3C traceparent of the execution's span (recorded with `execution.started`, shown by the debugger); undefined
   * for hooks that make no spans (the metrics').
   */
  readonly traceparent: string | undefined;
  /**
   * A unit of steps goes to a runtime: starts its dispatch span and one attempt span per step, and writes each
   * attempt span's context into its step, where the runtime finds the parent of the spans the node's code creates.
   * `nodes`: the graph's nodes, of which `unit` are the dispatched ones (by index, in the order of `steps`): so that
   * the scheduler makes no array per dispatch for the hooks. `inProcess`: the runtime is the host's own (nothing is
   * sent, so there is no dispatch span).
   */
  dispatch(
    runtime: string,
    nodes: readonly GraphNode[],
    unit: readonly number[],
    steps: StepRequest[],
    inProcess: boolean,
  ): void;
  /** A map node starts: its span, under which each element's attempt gets its own (see {@link mapItem}). */
  mapStarted(node: GraphNode): void;
  /**
   * An element of a map node is sent (an attempt of it): starts its span under the map node's, writes its context
   * into the element's step, and gives what ends the span.
   */
  mapItem(
    node: GraphNode,
    item: number,
    step: StepRequest,
  ): (status: "completed" | "failed" | "cancelled", failure?: FailureInfo) => void;
  /** W3C traceparent of the node's attempt span now open, if any (recorded with `node.started`). */
  attemptTraceparent(index: number): string | undefined;
  /** The runtime started the node's step. */
  started(index: number): void;
  /**
   * The attempt completed; `durationUs`: how long it ran, as the scheduler records it (the runtime's measure of
   * the step, or until a streaming node's streams ended). Given, because a clock read per hook costs.
   */
  completed(index: number, durationUs: number): void;
  /** The attempt failed after `durationUs`; `retryInMs` when another attempt follows. */
  failed(index: number, failure: FailureInfo, retryInMs: number | undefined, durationUs: number): void;
  cancelled(index: number, reason: string): void;
  /** The step never ran (an earlier step of its unit ended it). */
  abandoned(index: number): void;
  /** The node's outputs came from the result cache. */
  cached(node: GraphNode): void;
  /** The execution finished after `durationMs` (the scheduler's measure): ends its span. */
  finished(status: ExecutionStatus, failure: FailureInfo | undefined, durationMs: number): void;
}

/** What starts an execution's trace. */
export interface ExecutionTraceStart {
  executionId: string;
  blueprintId: string;
  nodeCount: number;
  /** An incoming W3C traceparent (API or webhook request): the execution's span becomes its child. */
  parent?: string | undefined;
  /** The traceparent an earlier run of this execution recorded: a resumed execution's new trace links to it. */
  resumedFrom?: string | undefined;
  /** How the execution was started, for the span kind: SERVER for an API or webhook request. */
  trigger?: "api" | "embedded" | undefined;
}

/** Starts the traces of executions; see `createTracing`. */
export interface Tracing {
  startExecution(start: ExecutionTraceStart): ExecutionTrace;
  /** Exports what ended and is not exported yet. */
  flush(): Promise<void>;
  /** Flushes and stops. */
  shutdown(): Promise<void>;
}

/** Both hooks, in order: tracing's (which writes the steps' trace context) and then the metrics'. */
export function bothTraces(first: ExecutionTrace, second: ExecutionTrace): ExecutionTrace {
  return {
    traceparent: first.traceparent ?? second.traceparent,
    dispatch(runtime, nodes, unit, steps, inProcess) {
      first.dispatch(runtime, nodes, unit, steps, inProcess);
      second.dispatch(runtime, nodes, unit, steps, inProcess);
    },
    mapStarted(node) {
      first.mapStarted(node);
      second.mapStarted(node);
    },
    mapItem(node, item, step) {
      const endFirst = first.mapItem(node, item, step);
      const endSecond = second.mapItem(node, item, step);
      return (status, failure) => {
        endFirst(status, failure);
        endSecond(status, failure);
      };
    },
    attemptTraceparent: (index) => first.attemptTraceparent(index) ?? second.attemptTraceparent(index),
    started(index) {
      first.started(index);
      second.started(index);
    },
    completed(index, durationUs) {
      first.completed(index, durationUs);
      second.completed(index, durationUs);
    },
    failed(index, failure, retryInMs, durationUs) {
      first.failed(index, failure, retryInMs, durationUs);
      second.failed(index, failure, retryInMs, durationUs);
    },
    cancelled(index, reason) {
      first.cancelled(index, reason);
      second.cancelled(index, reason);
    },
    abandoned(index) {
      first.abandoned(index);
      second.abandoned(index);
    },
    cached(node) {
      first.cached(node);
      second.cached(node);
    },
    finished(status, failure, durationMs) {
      first.finished(status, failure, durationMs);
      second.finished(status, failure, durationMs);
    },
  };
}
