import type { FailureInfo, LogLevel } from "@conductor/sdk/protocol";

/** Final status of an execution. */
export type ExecutionStatus = "completed" | "failed" | "cancelled";

/**
 * Status of a node within an execution. `cached` is completed from the result cache; `skipped` did not run
 * because its condition was false or an input it needs was never produced (an untaken branch).
 */
export type NodeStatus =
  | "pending"
  | "queued"
  | "running"
  | "completed"
  | "cached"
  | "failed"
  | "cancelled"
  | "skipped";

interface EventBase {
  executionId: string;
  /** Position of the event in its execution, from 1; a late subscriber uses it to tell what it has seen. */
  seq: number;
  /** Milliseconds since the epoch. */
  at: number;
}

interface NodeEventBase extends EventBase {
  nodeId: string;
}

/** Where an execution comes from, recorded with its start (see `ExecutionSummary.lineage`). */
export interface ExecutionLineage {
  /** The execution this one runs again (`conductor rerun`), and the node it runs again from. */
  rerunOf?: string;
  rerunFrom?: string;
  /** The execution that started this one as a sub-blueprint, and its node there. */
  parentId?: string;
  parentNode?: string;
}

/** What happened to one compensation, in `execution.finished`. */
export interface CompensationRecord {
  /** The compensation node. */
  nodeId: string;
  /** The node it undid. */
  compensates: string;
  status: "completed" | "failed";
  failure?: FailureInfo;
}

/** Everything that happens in an execution, in order. Any number of subscribers receive the same events. */
export type ExecutionEvent =
  | (EventBase & {
      type: "execution.started";
      blueprintId: string;
      inputs: Record<string, unknown>;
      /** Set when this continues an execution after a host restart. */
      resumed?: boolean;
      /** Where a new execution comes from (a re-run, a sub-blueprint's parent); absent for a plain start. */
      lineage?: ExecutionLineage;
      /** W3C traceparent of the execution's span, when tracing is on (docs/telemetry.md). */
      traceparent?: string;
    })
  | (NodeEventBase & { type: "node.queued" })
  | (NodeEventBase & {
      type: "node.started";
      attempt: number;
      runtime: string;
      /** The values the node received, by input port. */
      inputs?: Record<string, unknown>;
      /** W3C traceparent of the attempt's span, when tracing is on (docs/telemetry.md). */
      traceparent?: string;
    })
  | (NodeEventBase & { type: "node.log"; level: LogLevel; message: string; fields?: Record<string, unknown> })
  | (NodeEventBase & { type: "node.progress"; fraction: number; message: string })
  | (NodeEventBase & { type: "node.chunk"; port: string; value: unknown })
  | (NodeEventBase & { type: "node.heartbeat" })
  | (NodeEventBase & {
      type: "node.stream";
      /** The stream output port. */
      port: string;
      /** Items produced so far (never the items themselves). */
      items: number;
      /** `open` while it flows; how it ended otherwise (docs/streaming.md). */
      state: "open" | "ended" | "failed" | "stopped";
    })
  | (NodeEventBase & {
      type: "node.completed";
      outputs: Record<string, unknown>;
      durationMs: number;
      /** The outputs came from the result cache; the node did not run. */
      cached?: boolean;
    })
  | (NodeEventBase & {
      type: "node.failed";
      failure: FailureInfo;
      durationMs: number;
      attempt: number;
      /** Another attempt follows after `retryInMs`. */
      willRetry?: boolean;
      retryInMs?: number;
      /** What the node's error policy did: the execution fails, goes on without the outputs, or routes the failure. */
      handling?: "fail" | "continue" | "route";
    })
  | (NodeEventBase & { type: "node.cancelled"; reason: string })
  | (NodeEventBase & { type: "node.skipped"; reason: string })
  | (EventBase & {
      type: "execution.finished";
      status: ExecutionStatus;
      outputs: Record<string, unknown>;
      failure?: NodeFailureRecord;
      compensations?: CompensationRecord[];
      durationMs: number;
    });

export type ExecutionEventType = ExecutionEvent["type"];

/** A node failure, with the node it happened in. */
export interface NodeFailureRecord extends FailureInfo {
  nodeId: string;
}

/** Receives events; returning nothing. A throwing listener is isolated from the execution. */
export type ExecutionListener = (event: ExecutionEvent) => void;

/** Distributes an execution's events to its listeners. */
export class EventHub {
  private listeners: ExecutionListener[] = [];

  /** Whether anyone listens; the scheduler skips building events nobody receives. */
  get active(): boolean {
    return this.listeners.length > 0;
  }

  subscribe(listener: ExecutionListener): () => void {
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  emit(event: ExecutionEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        // A broken subscriber must not break the execution it watches.
        const warning = `an execution event listener threw: ${(error as Error).message}`;
        // Node's warning channel where there is one (a page or a Web Worker has none).
        typeof process === "undefined" ? console.warn(warning) : process.emitWarning(warning);
      }
    }
  }
}
