import type { FailureInfo, LogLevel } from "@conductor/sdk/protocol";
import type {
  ExecutionEvent,
  ExecutionLineage,
  ExecutionStatus,
  NodeFailureRecord,
  NodeStatus,
} from "../scheduler/execution-events.js";
import type { ExecutionOwner, OwnerState } from "./execution-owner.js";

export type { ExecutionLineage } from "../scheduler/execution-events.js";

/** One line of an execution's history, as lists show it. */
export interface ExecutionSummary {
  executionId: string;
  blueprintId: string;
  status: "running" | ExecutionStatus;
  /** Milliseconds since the epoch. */
  startedAt: number;
  finishedAt?: number;
  /**
   * From start to end. For an execution that was resumed, the whole of it, the time its host was down included,
   * from when it first started.
   */
  durationMs?: number;
  failure?: NodeFailureRecord;
  /** Where it came from: the execution it re-runs, the parent execution and node of a sub-blueprint. */
  lineage?: ExecutionLineage;
  /** How many times it was resumed after its host stopped, and when last (milliseconds since the epoch). */
  resumes?: number;
  resumedAt?: number;
  /** The process that runs it, or last ran it (journal only). */
  owner?: ExecutionOwner;
  /**
   * Set while it is recorded as running but nobody runs it: its owner died, its lease expired, or no owner was
   * recorded (a journal of an older format). `conductor resume` or `conductor serve` continue it.
   */
  orphaned?: Exclude<OwnerState, "alive">;
}

/** A log line a node wrote. */
export interface LogEntry {
  at: number;
  level: LogLevel;
  message: string;
  fields?: Record<string, unknown>;
}

/** What is known of one node of an execution. */
export interface NodeHistory {
  nodeId: string;
  status: NodeStatus;
  attempt: number;
  runtime?: string;
  startedAt?: number;
  finishedAt?: number;
  durationMs?: number;
  inputs?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  failure?: FailureInfo;
  logs: LogEntry[];
  progress?: { fraction: number; message: string };
}

/** Everything recorded of one execution. */
export interface ExecutionDetail extends ExecutionSummary {
  /**
   * The OpenTelemetry trace id of the execution's span, when tracing was on; for a resumed execution, its latest
   * run's (docs/telemetry.md).
   */
  traceId?: string;
  inputs: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  nodes: Record<string, NodeHistory>;
}

/** Filters of {@link ExecutionStore.list}. */
export interface ExecutionFilter {
  limit?: number;
  blueprintId?: string;
  status?: ExecutionSummary["status"];
  /** Only executions recorded as running whose owner no longer runs them (see {@link ExecutionSummary.orphaned}). */
  orphaned?: boolean;
}

/**
 * Where executions are recorded as they happen. The host appends every event of every execution; readers list
 * executions, read one in detail, or replay its events (a subscriber that arrives late gets what happened so far
 * from here, then live events).
 */
export interface ExecutionStore {
  append(event: ExecutionEvent): void;
  list(filter?: ExecutionFilter): ExecutionSummary[];
  get(executionId: string): ExecutionDetail | undefined;
  /** The recorded events of an execution with `seq` greater than `afterSeq`. */
  events(executionId: string, afterSeq?: number): ExecutionEvent[];
  close(): Promise<void>;
}

/** Applies one event to an execution's detail: the one place that knows how events change the record. */
export function applyEvent(
  detail: ExecutionDetail | undefined,
  event: ExecutionEvent,
): ExecutionDetail | undefined {
  if (event.type === "execution.started") {
    if (event.resumed === true && detail !== undefined) {
      // A resumed execution goes on: what finished before its host stopped stays, with its times.
      detail.status = "running";
      detail.resumes = (detail.resumes ?? 0) + 1;
      detail.resumedAt = event.at;
      delete detail.finishedAt;
      delete detail.durationMs;
      const traceId = traceIdOf(event.traceparent);
      if (traceId !== undefined) detail.traceId = traceId;
      return detail;
    }
    const traceId = traceIdOf(event.traceparent);
    return {
      executionId: event.executionId,
      blueprintId: event.blueprintId,
      status: "running",
      startedAt: event.at,
      inputs: event.inputs,
      nodes: {},
      ...(event.lineage === undefined ? {} : { lineage: event.lineage }),
      ...(traceId === undefined ? {} : { traceId }),
    };
  }
  if (detail === undefined) return undefined;
  if (event.type === "execution.finished") {
    detail.status = event.status;
    detail.finishedAt = event.at;
    // The finished event times the last run only; a resumed execution's duration is the whole of it.
    detail.durationMs = detail.resumes === undefined ? event.durationMs : event.at - detail.startedAt;
    detail.outputs = event.outputs;
    if (event.failure !== undefined) detail.failure = event.failure;
    return detail;
  }
  let node = detail.nodes[event.nodeId];
  if (node === undefined) {
    node = { nodeId: event.nodeId, status: "pending", attempt: 0, logs: [] };
    detail.nodes[event.nodeId] = node;
  }
  switch (event.type) {
    case "node.queued":
      node.status = "queued";
      break;
    case "node.started":
      node.status = "running";
      node.attempt = event.attempt;
      node.runtime = event.runtime;
      node.startedAt = event.at;
      if (event.inputs !== undefined) node.inputs = event.inputs;
      break;
    case "node.log":
      node.logs.push({
        at: event.at,
        level: event.level,
        message: event.message,
        ...(event.fields === undefined ? {} : { fields: event.fields }),
      });
      break;
    case "node.progress":
      node.progress = { fraction: event.fraction, message: event.message };
      break;
    case "node.completed":
      node.status = "completed";
      node.outputs = event.outputs;
      node.durationMs = event.durationMs;
      node.finishedAt = event.at;
      break;
    case "node.failed":
      node.status = "failed";
      node.failure = event.failure;
      node.durationMs = event.durationMs;
      node.finishedAt = event.at;
      break;
    case "node.cancelled":
      node.status = "cancelled";
      node.finishedAt = event.at;
      break;
    case "node.skipped":
      node.status = "skipped";
      break;
    default:
      break;
  }
  return detail;
}

/** The trace id of a W3C traceparent (`00-<trace id>-<span id>-<flags>`). */
function traceIdOf(traceparent: string | undefined): string | undefined {
  return traceparent === undefined || traceparent.length < 35 ? undefined : traceparent.slice(3, 35);
}

/** The summary part of a detail. */
export function summaryOf(detail: ExecutionDetail): ExecutionSummary {
  const summary: ExecutionSummary = {
    executionId: detail.executionId,
    blueprintId: detail.blueprintId,
    status: detail.status,
    startedAt: detail.startedAt,
  };
  if (detail.finishedAt !== undefined) summary.finishedAt = detail.finishedAt;
  if (detail.durationMs !== undefined) summary.durationMs = detail.durationMs;
  if (detail.failure !== undefined) summary.failure = detail.failure;
  if (detail.lineage !== undefined) summary.lineage = detail.lineage;
  if (detail.resumes !== undefined) summary.resumes = detail.resumes;
  if (detail.resumedAt !== undefined) summary.resumedAt = detail.resumedAt;
  if (detail.owner !== undefined) summary.owner = detail.owner;
  if (detail.orphaned !== undefined) summary.orphaned = detail.orphaned;
  return summary;
}
