import { timestampMs } from "@bufbuild/protobuf/wkt";
import {
  type Execution,
  type ExecutionEvent,
  ExecutionStatus,
  type Failure,
  LogLevel,
  type NodeState,
  NodeStatus,
} from "@conductor/sdk/client";

/** The states a node is drawn in; `retrying` is a failed attempt that another attempt follows. */
export type NodeStatusName =
  | "pending"
  | "queued"
  | "running"
  | "retrying"
  | "completed"
  | "cached"
  | "failed"
  | "cancelled"
  | "skipped";

export type ExecutionStatusName = "running" | "completed" | "failed" | "cancelled";

export interface LogLine {
  at: number;
  level: string;
  message: string;
  fieldsJson: string;
}

/** What the debugger knows of one node of the execution it shows. */
export interface NodeView {
  status: NodeStatusName;
  attempt: number;
  runtime: string;
  startedAt?: number;
  durationMs?: number;
  inputsJson: string;
  outputsJson: string;
  failure?: Failure;
  logs: LogLine[];
  progress?: { fraction: number; message: string };
  /** How far each stream output has got, by port, while the execution is watched (docs/streaming.md). */
  streams?: Record<string, StreamView>;
  reason?: string;
}

/** A stream output's item count and state: `open`, `ended`, `failed` or `stopped`. */
export interface StreamView {
  items: number;
  state: string;
}

/** The execution the debugger shows, built from GetExecution or from WatchExecution's events. */
export interface ExecutionView {
  executionId: string;
  blueprintId: string;
  status: ExecutionStatusName;
  startedAt: number;
  durationMs?: number;
  inputsJson: string;
  outputsJson: string;
  failure?: Failure;
  nodes: Record<string, NodeView>;
  /** The last event applied, for resuming a watch. */
  lastSeq: number;
  /** Set once the events show it was resumed after its host stopped: it is timed from its first start. */
  resumed?: boolean;
}

const nodeStatusNames: Record<number, NodeStatusName> = {
  [NodeStatus.PENDING]: "pending",
  [NodeStatus.QUEUED]: "queued",
  [NodeStatus.RUNNING]: "running",
  [NodeStatus.COMPLETED]: "completed",
  [NodeStatus.CACHED]: "cached",
  [NodeStatus.FAILED]: "failed",
  [NodeStatus.CANCELLED]: "cancelled",
  [NodeStatus.SKIPPED]: "skipped",
};

const executionStatusNames: Record<number, ExecutionStatusName> = {
  [ExecutionStatus.RUNNING]: "running",
  [ExecutionStatus.COMPLETED]: "completed",
  [ExecutionStatus.FAILED]: "failed",
  [ExecutionStatus.CANCELLED]: "cancelled",
};

const logLevelNames: Record<number, string> = {
  [LogLevel.DEBUG]: "debug",
  [LogLevel.INFO]: "info",
  [LogLevel.WARN]: "warn",
  [LogLevel.ERROR]: "error",
};

export function executionStatusName(status: ExecutionStatus): ExecutionStatusName {
  return executionStatusNames[status] ?? "running";
}

/** An execution view of a recorded execution (GetExecution). */
export function fromExecution(execution: Execution): ExecutionView {
  const nodes: Record<string, NodeView> = {};
  for (const node of execution.nodes) nodes[node.nodeId] = fromNodeState(node);
  return {
    executionId: execution.executionId,
    blueprintId: execution.blueprintId,
    status: executionStatusName(execution.status),
    startedAt: execution.startedAt === undefined ? Date.now() : timestampMs(execution.startedAt),
    ...(execution.status === ExecutionStatus.RUNNING ? {} : { durationMs: execution.durationMs }),
    inputsJson: execution.inputsJson,
    outputsJson: execution.outputsJson,
    ...(execution.failure === undefined ? {} : { failure: execution.failure }),
    nodes,
    lastSeq: 0,
  };
}

function fromNodeState(node: NodeState): NodeView {
  const finished = node.finishedAt !== undefined;
  return {
    status: nodeStatusNames[node.status] ?? "pending",
    attempt: node.attempt,
    runtime: node.runtime,
    ...(node.startedAt === undefined ? {} : { startedAt: timestampMs(node.startedAt) }),
    ...(finished || node.durationMs > 0 ? { durationMs: node.durationMs } : {}),
    inputsJson: node.inputsJson,
    outputsJson: node.outputsJson,
    ...(node.failure === undefined ? {} : { failure: node.failure }),
    logs: node.logs.map((log) => ({
      at: log.at === undefined ? 0 : timestampMs(log.at),
      level: logLevelNames[log.level] ?? "info",
      message: log.message,
      fieldsJson: log.fieldsJson,
    })),
    ...(node.progress === undefined
      ? {}
      : { progress: { fraction: node.progress.fraction, message: node.progress.message } }),
  };
}

/** An empty view of an execution that has just been started. */
export function startingExecution(executionId: string, blueprintId: string): ExecutionView {
  return {
    executionId,
    blueprintId,
    status: "running",
    startedAt: Date.now(),
    inputsJson: "",
    outputsJson: "",
    nodes: {},
    lastSeq: 0,
  };
}

function emptyNode(): NodeView {
  return { status: "pending", attempt: 0, runtime: "", inputsJson: "", outputsJson: "", logs: [] };
}

/** Applies one event to a view, giving a new view (the old one is left as it was, for rendering). */
export function applyEvent(view: ExecutionView, event: ExecutionEvent): ExecutionView {
  if (event.seq <= view.lastSeq) return view;
  const at = event.at === undefined ? Date.now() : timestampMs(event.at);
  const next: ExecutionView = { ...view, lastSeq: event.seq };
  const kind = event.kind;
  if (kind.case === "executionStarted") {
    // A resumed execution goes on: it keeps its first start and what finished before its host stopped.
    if (kind.value.resumed && view.lastSeq > 0) return { ...next, status: "running", resumed: true };
    return { ...next, blueprintId: kind.value.blueprintId, startedAt: at, inputsJson: kind.value.inputsJson };
  }
  if (kind.case === "executionFinished") {
    const finished: ExecutionView = {
      ...next,
      status: executionStatusName(kind.value.status),
      // The event times the last run only; a resumed execution is timed as a whole.
      durationMs: next.resumed === true ? at - next.startedAt : kind.value.durationMs,
      outputsJson: kind.value.outputsJson,
    };
    if (kind.value.failure !== undefined) finished.failure = kind.value.failure;
    return finished;
  }
  if (event.nodeId === "") return next;
  const node: NodeView = { ...(view.nodes[event.nodeId] ?? emptyNode()) };
  next.nodes = { ...view.nodes, [event.nodeId]: node };
  switch (kind.case) {
    case "nodeQueued":
      node.status = "queued";
      break;
    case "nodeStarted":
      node.status = "running";
      node.attempt = kind.value.attempt;
      node.runtime = kind.value.runtime;
      node.startedAt = at;
      node.inputsJson = kind.value.inputsJson;
      delete node.failure;
      // A new attempt streams from its first item again.
      delete node.streams;
      break;
    case "nodeLog":
      node.logs = [
        ...node.logs,
        {
          at,
          level: logLevelNames[kind.value.level] ?? "info",
          message: kind.value.message,
          fieldsJson: kind.value.fieldsJson,
        },
      ];
      break;
    case "nodeProgress":
      node.progress = { fraction: kind.value.fraction, message: kind.value.message };
      break;
    case "nodeStream":
      node.streams = {
        ...node.streams,
        [kind.value.port]: { items: Number(kind.value.items), state: kind.value.state },
      };
      break;
    case "nodeCompleted":
      node.status = kind.value.cached ? "cached" : "completed";
      node.outputsJson = kind.value.outputsJson;
      node.durationMs = kind.value.durationMs;
      break;
    case "nodeFailed":
      node.status = kind.value.willRetry ? "retrying" : "failed";
      node.durationMs = kind.value.durationMs;
      if (kind.value.failure !== undefined) node.failure = kind.value.failure;
      break;
    case "nodeCancelled":
      node.status = "cancelled";
      node.reason = kind.value.reason;
      break;
    case "nodeSkipped":
      node.status = "skipped";
      node.reason = kind.value.reason;
      break;
    default:
      break;
  }
  return next;
}
