import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Execution as ApiExecution,
  type ExecutionEvent as ApiExecutionEvent,
  ExecutionStatus as ApiExecutionStatus,
  type ExecutionSummary as ApiExecutionSummary,
  type Failure as ApiFailure,
  LogLevel as ApiLogLevel,
  NodeStatus as ApiNodeStatus,
  ExecutionEventSchema,
  ExecutionSchema,
  ExecutionSummarySchema,
  FailureSchema,
  NodeStateSchema,
  OrphanReason,
} from "@conductor/sdk/client";
import type { FailureInfo, LogLevel } from "@conductor/sdk/protocol";
import type { ExecutionEvent } from "../scheduler/execution-events.js";
import type { ExecutionDetail, ExecutionSummary, NodeHistory } from "../store/execution-store.js";
import { jsonText, optionalJsonText, previewJsonText } from "./json-text.js";
import { valuesJsonText } from "./value-handles.js";

/** The one place that turns the host's execution events and records into messages of `conductor.api.v1`. */

const executionStatuses: Record<string, ApiExecutionStatus> = {
  running: ApiExecutionStatus.RUNNING,
  completed: ApiExecutionStatus.COMPLETED,
  failed: ApiExecutionStatus.FAILED,
  cancelled: ApiExecutionStatus.CANCELLED,
};

const nodeStatuses: Record<string, ApiNodeStatus> = {
  pending: ApiNodeStatus.PENDING,
  queued: ApiNodeStatus.QUEUED,
  running: ApiNodeStatus.RUNNING,
  completed: ApiNodeStatus.COMPLETED,
  cached: ApiNodeStatus.CACHED,
  failed: ApiNodeStatus.FAILED,
  cancelled: ApiNodeStatus.CANCELLED,
  skipped: ApiNodeStatus.SKIPPED,
};

const logLevels: Record<LogLevel, ApiLogLevel> = {
  debug: ApiLogLevel.DEBUG,
  info: ApiLogLevel.INFO,
  warn: ApiLogLevel.WARN,
  error: ApiLogLevel.ERROR,
};

/** The API form of an execution status ("running", "completed", ...). */
export function toApiExecutionStatus(status: string): ApiExecutionStatus {
  return executionStatuses[status] ?? ApiExecutionStatus.UNSPECIFIED;
}

/** The host form of an API execution status, for filters; undefined for UNSPECIFIED. */
export function fromApiExecutionStatus(status: ApiExecutionStatus): ExecutionSummary["status"] | undefined {
  switch (status) {
    case ApiExecutionStatus.RUNNING:
      return "running";
    case ApiExecutionStatus.COMPLETED:
      return "completed";
    case ApiExecutionStatus.FAILED:
      return "failed";
    case ApiExecutionStatus.CANCELLED:
      return "cancelled";
    default:
      return undefined;
  }
}

/** The API form of a node failure, with its cause chain. */
export function toApiFailure(failure: FailureInfo): ApiFailure {
  return create(FailureSchema, {
    message: failure.message,
    type: failure.type,
    retryable: failure.retryable,
    detailsJson: failure.details === undefined ? "" : jsonText(failure.details),
    stack: failure.stack ?? "",
    nodeId: failure.nodeId ?? "",
    retryDelayMs: failure.retryDelayMs ?? 0,
    ...(failure.cause === undefined ? {} : { cause: toApiFailure(failure.cause) }),
  });
}

/** Reads a field that newer hosts put on an event, so this mapping works before and after they do. */
function extra<T>(event: ExecutionEvent, field: string): T | undefined {
  return (event as unknown as Record<string, T | undefined>)[field];
}

/** The ref prefix of an execution's values, or of a node's, for their handles. */
function refOf(executionId: string, nodeId?: string): string {
  return nodeId === undefined ? `executions/${executionId}` : `executions/${executionId}/nodes/${nodeId}`;
}

/**
 * JSON text of a node's values: previews (json-text.ts), and handles for values larger than the inline limit
 * (value-handles.ts), which ReadValue streams.
 */
function nodeValuesText(values: Record<string, unknown> | undefined, ref: string): string {
  return valuesJsonText(values, ref, { preview: true });
}

/** The API form of one execution event. */
export function toApiEvent(event: ExecutionEvent): ApiExecutionEvent {
  const base = {
    executionId: event.executionId,
    seq: event.seq,
    at: timestampFromMs(event.at),
    nodeId: "nodeId" in event ? event.nodeId : "",
  };
  switch (event.type) {
    case "execution.started":
      return create(ExecutionEventSchema, {
        ...base,
        kind: {
          case: "executionStarted",
          value: {
            blueprintId: event.blueprintId,
            inputsJson: valuesJsonText(event.inputs, `${refOf(event.executionId)}/inputs`) || "null",
            resumed: extra<boolean>(event, "resumed") === true,
          },
        },
      });
    case "node.queued":
      return create(ExecutionEventSchema, { ...base, kind: { case: "nodeQueued", value: {} } });
    case "node.started":
      return create(ExecutionEventSchema, {
        ...base,
        kind: {
          case: "nodeStarted",
          value: {
            attempt: event.attempt,
            runtime: event.runtime,
            inputsJson: nodeValuesText(event.inputs, `${refOf(event.executionId, event.nodeId)}/inputs`),
          },
        },
      });
    case "node.log":
      return create(ExecutionEventSchema, {
        ...base,
        kind: {
          case: "nodeLog",
          value: {
            level: logLevels[event.level] ?? ApiLogLevel.UNSPECIFIED,
            message: event.message,
            fieldsJson: optionalJsonText(event.fields),
          },
        },
      });
    case "node.progress":
      return create(ExecutionEventSchema, {
        ...base,
        kind: { case: "nodeProgress", value: { fraction: event.fraction, message: event.message } },
      });
    case "node.chunk":
      return create(ExecutionEventSchema, {
        ...base,
        kind: {
          case: "nodeChunk",
          value: { port: event.port, valueJson: previewJsonText(event.value) || "null" },
        },
      });
    case "node.heartbeat":
      return create(ExecutionEventSchema, { ...base, kind: { case: "nodeHeartbeat", value: {} } });
    case "node.stream":
      return create(ExecutionEventSchema, {
        ...base,
        kind: {
          case: "nodeStream",
          value: { port: event.port, items: BigInt(event.items), state: event.state },
        },
      });
    case "node.completed":
      return create(ExecutionEventSchema, {
        ...base,
        kind: {
          case: "nodeCompleted",
          value: {
            outputsJson: nodeValuesText(event.outputs, `${refOf(event.executionId, event.nodeId)}/outputs`),
            durationMs: event.durationMs,
            cached: extra<boolean>(event, "cached") === true,
          },
        },
      });
    case "node.failed":
      return create(ExecutionEventSchema, {
        ...base,
        kind: {
          case: "nodeFailed",
          value: {
            failure: toApiFailure({ ...event.failure, nodeId: event.nodeId }),
            durationMs: event.durationMs,
            attempt: extra<number>(event, "attempt") ?? 0,
            willRetry: extra<boolean>(event, "willRetry") === true,
            retryInMs: Math.round(extra<number>(event, "retryInMs") ?? 0),
          },
        },
      });
    case "node.cancelled":
      return create(ExecutionEventSchema, {
        ...base,
        kind: { case: "nodeCancelled", value: { reason: event.reason } },
      });
    case "node.skipped":
      return create(ExecutionEventSchema, {
        ...base,
        kind: { case: "nodeSkipped", value: { reason: event.reason } },
      });
    case "execution.finished":
      return create(ExecutionEventSchema, {
        ...base,
        kind: {
          case: "executionFinished",
          value: {
            status: toApiExecutionStatus(event.status),
            outputsJson: valuesJsonText(event.outputs, `${refOf(event.executionId)}/outputs`) || "null",
            durationMs: event.durationMs,
            ...(event.failure === undefined ? {} : { failure: toApiFailure(event.failure) }),
          },
        },
      });
    default:
      // An event type this API version does not know yet: passed on with its seq, without a kind.
      return create(ExecutionEventSchema, base);
  }
}

/** The API form of one line of the execution history. */
export function toApiSummary(summary: ExecutionSummary): ApiExecutionSummary {
  return create(ExecutionSummarySchema, {
    executionId: summary.executionId,
    blueprintId: summary.blueprintId,
    status: toApiExecutionStatus(summary.status),
    startedAt: timestampFromMs(summary.startedAt),
    durationMs: summary.durationMs ?? 0,
    ...(summary.finishedAt === undefined ? {} : { finishedAt: timestampFromMs(summary.finishedAt) }),
    ...(summary.failure === undefined ? {} : { failure: toApiFailure(summary.failure) }),
    ...ownershipFields(summary),
  });
}

const orphanReasons = {
  dead: OrphanReason.OWNER_DIED,
  expired: OrphanReason.LEASE_EXPIRED,
  unknown: OrphanReason.NO_OWNER,
} as const;

/** The lineage, owner and orphan fields of an execution's API form (summary and record alike). */
function ownershipFields(summary: ExecutionSummary) {
  const lineage = summary.lineage;
  return {
    ...(lineage === undefined && summary.resumes === undefined
      ? {}
      : {
          lineage: {
            rerunOf: lineage?.rerunOf ?? "",
            rerunFromNode: lineage?.rerunFrom ?? "",
            parentExecutionId: lineage?.parentId ?? "",
            parentNodeId: lineage?.parentNode ?? "",
            resumes: summary.resumes ?? 0,
            ...(summary.resumedAt === undefined ? {} : { resumedAt: timestampFromMs(summary.resumedAt) }),
          },
        }),
    ...(summary.owner === undefined
      ? {}
      : {
          owner: {
            host: summary.owner.host,
            pid: summary.owner.pid,
            label: summary.owner.label,
            processStartedAt: timestampFromMs(summary.owner.startedAt),
          },
        }),
    ...(summary.orphaned === undefined ? {} : { orphaned: orphanReasons[summary.orphaned] }),
  };
}

/** The API form of everything recorded of an execution. */
export function toApiExecution(detail: ExecutionDetail): ApiExecution {
  return create(ExecutionSchema, {
    executionId: detail.executionId,
    blueprintId: detail.blueprintId,
    status: toApiExecutionStatus(detail.status),
    startedAt: timestampFromMs(detail.startedAt),
    durationMs: detail.durationMs ?? 0,
    ...(detail.finishedAt === undefined ? {} : { finishedAt: timestampFromMs(detail.finishedAt) }),
    ...(detail.failure === undefined ? {} : { failure: toApiFailure(detail.failure) }),
    inputsJson: valuesJsonText(detail.inputs, `${refOf(detail.executionId)}/inputs`) || "null",
    outputsJson: valuesJsonText(detail.outputs, `${refOf(detail.executionId)}/outputs`),
    nodes: Object.values(detail.nodes).map((node) => toApiNodeState(node, detail.executionId)),
    ...ownershipFields(detail),
    traceId: detail.traceId ?? "",
  });
}

function toApiNodeState(node: NodeHistory, executionId: string) {
  return create(NodeStateSchema, {
    nodeId: node.nodeId,
    status: nodeStatuses[node.status] ?? ApiNodeStatus.UNSPECIFIED,
    attempt: node.attempt,
    runtime: node.runtime ?? "",
    durationMs: node.durationMs ?? 0,
    ...(node.startedAt === undefined ? {} : { startedAt: timestampFromMs(node.startedAt) }),
    ...(node.finishedAt === undefined ? {} : { finishedAt: timestampFromMs(node.finishedAt) }),
    inputsJson: nodeValuesText(node.inputs, `${refOf(executionId, node.nodeId)}/inputs`),
    outputsJson: nodeValuesText(node.outputs, `${refOf(executionId, node.nodeId)}/outputs`),
    ...(node.failure === undefined
      ? {}
      : { failure: toApiFailure({ ...node.failure, nodeId: node.nodeId }) }),
    logs: node.logs.map((log) => ({
      at: timestampFromMs(log.at),
      level: logLevels[log.level] ?? ApiLogLevel.UNSPECIFIED,
      message: log.message,
      fieldsJson: optionalJsonText(log.fields),
    })),
    ...(node.progress === undefined ? {} : { progress: node.progress }),
  });
}
