import type { FailureInfo, LogLevel } from "@conductor/sdk/protocol";
import type {
  ExecutionEvent,
  ExecutionStatus,
  NodeFailureRecord,
  NodeStatus,
} from "../scheduler/execution-events.js";

/** One line of an execution's history, as lists show it. */
export interface ExecutionSummary {
  executionId: string;
  blueprintId: string;
  status: "running" | ExecutionStatus;
  /** Milliseconds since the epoch. */
  startedAt: number;
  finishedAt?: number;
  durationMs?: number;
  failure?: NodeFailureRecord;
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
  inputs: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  nodes: Record<string, NodeHistory>;
}

/** Filters of {@link ExecutionStore.list}. */
export interface ExecutionFilter {
  limit?: number;
  blueprintId?: string;
  status?: ExecutionSummary["status"];
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
    return {
      executionId: event.executionId,
      blueprintId: event.blueprintId,
      status: "running",
      startedAt: event.at,
      inputs: event.inputs,
      nodes: {},
    };
  }
  if (detail === undefined) return undefined;
  if (event.type === "execution.finished") {
    detail.status = event.status;
    detail.finishedAt = event.at;
    detail.durationMs = event.durationMs;
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
  return summary;
}
