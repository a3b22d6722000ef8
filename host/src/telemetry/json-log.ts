import { type Level, pino } from "pino";
import type { BlueprintGraph } from "../blueprint/blueprint-graph.js";
import type { ExecutionEvent, ExecutionListener } from "../scheduler/execution-events.js";
import type { LogLevelName } from "./log-settings.js";

/**
 * The host's structured log (`--log-format json`, docs/telemetry.md): one JSON line per execution event, per log
 * line a node writes in any runtime, per host notice and (at `debug`) per line a runtime process writes outside
 * its nodes. Lines of an execution carry `execution_id`, `blueprint`, and for a node `node`, `attempt` and
 * `runtime`; with tracing on, `trace_id` and `span_id` of the execution's span or of the node attempt's span, so
 * that a log line leads to its span and back.
 */
export interface HostLog {
  /** A notice of the host: a runtime restarted, a set-up step, a problem that is not an execution's. */
  notice(message: string, fields?: Record<string, unknown>): void;
  /** An error that ends a command (an invalid blueprint, a runtime that does not start), with its code. */
  error(message: string, fields?: Record<string, unknown>): void;
  /** A line a runtime process wrote outside any node (its stderr, or stdout after its handshake line). */
  runtimeOutput(runtime: string, stream: "stderr" | "stdout", line: string): void;
  /** A listener for one execution of `graph` (give it to `createConductor({ observers })`). */
  observe(graph: Pick<BlueprintGraph, "id">): ExecutionListener;
}

/** Options of {@link createJsonLog}. */
export interface JsonLogOptions {
  /** Where the lines go. Default: the process's stderr (stdout stays the command's own output). */
  destination?: { write(line: string): unknown };
  /** Lines below this level are left out. Default `info`. */
  level?: LogLevelName;
}

/** A W3C traceparent's trace id and span id. */
interface SpanIds {
  trace_id: string;
  span_id: string;
}

function spanIdsOf(traceparent: string | undefined): SpanIds | undefined {
  // version-traceid-spanid-flags, as the host writes it (telemetry/otel-tracing.ts traceparentOf).
  if (traceparent === undefined || traceparent.length !== 55) return undefined;
  return { trace_id: traceparent.slice(3, 35), span_id: traceparent.slice(36, 52) };
}

/** Creates the JSON-lines log, written with pino. */
export function createJsonLog(options: JsonLogOptions = {}): HostLog {
  const logger = pino(
    {
      name: "conductor",
      level: options.level ?? "info",
      messageKey: "msg",
      timestamp: pino.stdTimeFunctions.isoTime,
      // The level by name ("info"), which people and log pipelines read without a table of numbers.
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination ?? process.stderr,
  );
  const write = (level: Level, line: Record<string, unknown>, message: string) => {
    logger[level](line, message);
  };

  return {
    notice: (message, fields) => write("info", { event: "host.notice", ...fields }, message),
    error: (message, fields) => write("error", { event: "host.error", ...fields }, message),
    runtimeOutput: (runtime, stream, line) => write("debug", { event: `runtime.${stream}`, runtime }, line),
    observe(graph) {
      const blueprint = graph.id;
      let execution: SpanIds | undefined;
      // The attempt, runtime and span of each node's attempt running or last run, from its node.started.
      const attempts = new Map<string, { attempt: number; runtime: string; span: SpanIds | undefined }>();
      return (event: ExecutionEvent) => {
        const line: Record<string, unknown> = {
          event: event.type,
          execution_id: event.executionId,
          blueprint,
        };
        if (event.type === "execution.started") {
          execution = spanIdsOf(event.traceparent);
          if (execution !== undefined) Object.assign(line, execution);
          if (event.resumed === true) line.resumed = true;
          write("info", line, `execution of ${blueprint} started`);
          return;
        }
        if (event.type === "execution.finished") {
          if (execution !== undefined) Object.assign(line, execution);
          line.status = event.status;
          line.duration_ms = event.durationMs;
          if (event.failure !== undefined) {
            line.node = event.failure.nodeId;
            line.failure = { type: event.failure.type, message: event.failure.message };
          }
          write(
            event.status === "completed" ? "info" : event.status === "failed" ? "error" : "warn",
            line,
            `execution of ${blueprint} ${event.status}`,
          );
          return;
        }
        line.node = event.nodeId;
        if (event.type === "node.started") {
          const span = spanIdsOf(event.traceparent);
          attempts.set(event.nodeId, { attempt: event.attempt, runtime: event.runtime, span });
        }
        const attempt = attempts.get(event.nodeId);
        if (attempt !== undefined) {
          line.attempt = attempt.attempt;
          line.runtime = attempt.runtime;
        }
        const span = attempt?.span ?? execution;
        if (span !== undefined) Object.assign(line, span);
        switch (event.type) {
          case "node.log":
            if (event.fields !== undefined) line.fields = event.fields;
            write(event.level, line, event.message);
            return;
          case "node.queued":
            write("debug", line, `node ${event.nodeId} queued`);
            return;
          case "node.started":
            write("info", line, `node ${event.nodeId} started`);
            return;
          case "node.progress":
            line.fraction = event.fraction;
            write("debug", line, event.message === "" ? `node ${event.nodeId} progress` : event.message);
            return;
          case "node.chunk":
            // The value stays out: logs carry what happened, not data (values can be large, or private).
            line.port = event.port;
            write("debug", line, `node ${event.nodeId} streamed a chunk on ${event.port}`);
            return;
          case "node.heartbeat":
            write("debug", line, `node ${event.nodeId} heartbeat`);
            return;
          case "node.completed":
            line.duration_ms = event.durationMs;
            if (event.cached === true) line.cached = true;
            write(
              "info",
              line,
              `node ${event.nodeId} completed${event.cached === true ? " from the cache" : ""}`,
            );
            return;
          case "node.failed": {
            line.attempt = event.attempt;
            line.duration_ms = event.durationMs;
            line.failure = {
              type: event.failure.type,
              message: event.failure.message,
              retryable: event.failure.retryable,
            };
            if (event.willRetry === true) line.retry_in_ms = event.retryInMs;
            if (event.handling !== undefined) line.handling = event.handling;
            const handled = event.willRetry === true || (event.handling ?? "fail") !== "fail";
            write(handled ? "warn" : "error", line, `node ${event.nodeId} failed: ${event.failure.message}`);
            return;
          }
          case "node.cancelled":
            line.reason = event.reason;
            write("warn", line, `node ${event.nodeId} cancelled: ${event.reason}`);
            return;
          case "node.skipped":
            line.reason = event.reason;
            write("info", line, `node ${event.nodeId} skipped: ${event.reason}`);
            return;
          default:
            return;
        }
      };
    },
  };
}
