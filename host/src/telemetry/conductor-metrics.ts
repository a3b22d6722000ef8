import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { BlueprintGraph } from "../blueprint/blueprint-graph.js";
import type { RuntimeHealth } from "../runtime/runtime-connection.js";
import type { ExecutionListener } from "../scheduler/execution-events.js";

/**
 * Prometheus metrics of a host (docs/telemetry.md lists every series). Labels are bounded: blueprint ids, node
 * types, runtime names and statuses, never execution ids. Fed by one event listener per execution, so the
 * scheduler carries no metrics code.
 */
export interface ConductorMetrics {
  /** The registry to expose (prom-client's text format: `registry.metrics()`). */
  readonly registry: Registry;
  /** A listener for one execution of this graph. */
  observe(graph: BlueprintGraph): ExecutionListener;
  /** Reads the runtimes' state at each scrape. */
  watchRuntimes(health: () => readonly RuntimeHealth[]): void;
  /** Records one journal commit's duration. */
  journalCommitted(seconds: number): void;
  /** Pushes what the OTLP export holds (when there is one); Prometheus pulls, so there is nothing to do for it. */
  flush(): Promise<void>;
  /** Flushes and stops the OTLP export, if any. */
  shutdown(): Promise<void>;
}

/**
 * Where the same measurements go besides the Prometheus registry: the OTLP export (`otlp-metrics.ts`), given to
 * {@link createConductorMetrics} when the OTEL_* environment asks for it. Durations in seconds.
 */
export interface MetricsMirror {
  executionStarted(blueprint: string): void;
  executionFinished(blueprint: string, status: string, seconds: number): void;
  nodeAttempt(nodeType: string, runtime: string, status: "completed" | "failed", seconds: number): void;
  nodeRetried(nodeType: string, runtime: string): void;
  cacheHit(nodeType: string): void;
  inFlight(runtime: string, delta: 1 | -1): void;
  queued(runtime: string, delta: 1 | -1): void;
  journalCommitted(seconds: number): void;
  watchRuntimes(health: () => readonly RuntimeHealth[]): void;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * Whether the standard OTEL_* environment asks for OTLP metrics: `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` is set, or
 * `OTEL_METRICS_EXPORTER` names `otlp` and `OTEL_EXPORTER_OTLP_ENDPOINT` is set; not when the SDK is disabled. An
 * endpoint alone (which turns tracing on) does not, because a trace collector need not take metrics.
 */
export function otlpMetricsConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  const named = (name: string) => (env[name] ?? "").trim() !== "";
  if ((env.OTEL_SDK_DISABLED ?? "").toLowerCase() === "true") return false;
  const exporters = (env.OTEL_METRICS_EXPORTER ?? "").split(",").map((name) => name.trim());
  if (exporters.includes("none")) return false;
  return (
    named("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") ||
    (exporters.includes("otlp") && named("OTEL_EXPORTER_OTLP_ENDPOINT"))
  );
}

/**
 * The metrics a server keeps: Prometheus's registry, plus the OTLP export when the OTEL_* environment asks for it
 * (the OpenTelemetry metrics SDK is then imported).
 */
export async function metricsFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
): Promise<ConductorMetrics> {
  if (!otlpMetricsConfigured(env)) return createConductorMetrics();
  const { createOtlpMetrics } = await import("./otlp-metrics.js");
  return createConductorMetrics({ mirror: createOtlpMetrics(env) });
}

/** Seconds: from a millisecond in-process node to a long-running one. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300];

/**
 * Creates the metrics, with Node's process metrics (`process_*`, `nodejs_*`) in the same registry; `mirror` gets
 * every measurement too (the OTLP export: see {@link metricsFromEnvironment}).
 */
export function createConductorMetrics(options: { mirror?: MetricsMirror } = {}): ConductorMetrics {
  const mirror = options.mirror;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const executionsStarted = new Counter({
    name: "conductor_executions_started_total",
    help: "Executions started, by blueprint.",
    labelNames: ["blueprint"],
    registers: [registry],
  });
  const executionsFinished = new Counter({
    name: "conductor_executions_finished_total",
    help: "Executions finished, by blueprint and status (completed, failed, cancelled).",
    labelNames: ["blueprint", "status"],
    registers: [registry],
  });
  const executionDuration = new Histogram({
    name: "conductor_execution_duration_seconds",
    help: "Duration of finished executions, by blueprint and status.",
    labelNames: ["blueprint", "status"],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const attemptDuration = new Histogram({
    name: "conductor_node_attempt_duration_seconds",
    help: "Duration of node attempts, by node type, runtime and status (completed, failed).",
    labelNames: ["node_type", "runtime", "status"],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const retries = new Counter({
    name: "conductor_node_retries_total",
    help: "Node attempts that failed and are tried again, by node type and runtime.",
    labelNames: ["node_type", "runtime"],
    registers: [registry],
  });
  const cacheHits = new Counter({
    name: "conductor_node_cache_hits_total",
    help: "Nodes completed from the result cache, by node type.",
    labelNames: ["node_type"],
    registers: [registry],
  });
  const inFlight = new Gauge({
    name: "conductor_runtime_invocations_in_flight",
    help: "Node steps running in each runtime now.",
    labelNames: ["runtime"],
    registers: [registry],
  });
  const queued = new Gauge({
    name: "conductor_runtime_invocations_queued",
    help: "Node steps sent to each runtime that have not started yet (waiting for a free slot).",
    labelNames: ["runtime"],
    registers: [registry],
  });
  const journalCommit = new Histogram({
    name: "conductor_journal_commit_seconds",
    help: "Duration of the journal's commits (one commit holds the events of one event-loop turn).",
    buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  let health: (() => readonly RuntimeHealth[]) | undefined;
  new Gauge({
    name: "conductor_runtime_restarts",
    help: "How many times each runtime was restarted since the host started.",
    labelNames: ["runtime"],
    registers: [registry],
    collect() {
      for (const runtime of health?.() ?? []) this.set({ runtime: runtime.name }, runtime.restarts);
    },
  });
  new Gauge({
    name: "conductor_runtime_up",
    help: "1 when the runtime serves, 0 while it starts, restarts or is broken.",
    labelNames: ["runtime"],
    registers: [registry],
    collect() {
      for (const runtime of health?.() ?? [])
        this.set({ runtime: runtime.name }, runtime.state === "ok" ? 1 : 0);
    },
  });

  return {
    registry,
    watchRuntimes(next) {
      health = next;
      mirror?.watchRuntimes(next);
    },
    journalCommitted(seconds) {
      journalCommit.observe(seconds);
      mirror?.journalCommitted(seconds);
    },
    flush: () => mirror?.flush() ?? Promise.resolve(),
    shutdown: () => mirror?.shutdown() ?? Promise.resolve(),
    observe(graph) {
      const nodes = new Map(graph.nodes.map((node) => [node.id, node]));
      // Node steps sent and not started yet, and started and not ended, each with its runtime.
      const waiting = new Map<string, string>();
      const running = new Set<string>();
      const blueprint = graph.id;
      const unqueue = (nodeId: string) => {
        const runtime = waiting.get(nodeId);
        if (runtime === undefined) return;
        waiting.delete(nodeId);
        queued.dec({ runtime });
        mirror?.queued(runtime, -1);
      };
      const stop = (nodeId: string, runtime: string) => {
        unqueue(nodeId);
        if (!running.delete(nodeId)) return;
        inFlight.dec({ runtime });
        mirror?.inFlight(runtime, -1);
      };
      const attempt = (nodeType: string, runtime: string, status: "completed" | "failed", ms: number) => {
        attemptDuration.observe({ node_type: nodeType, runtime, status }, ms / 1000);
        mirror?.nodeAttempt(nodeType, runtime, status, ms / 1000);
      };
      return (event) => {
        switch (event.type) {
          case "execution.started":
            executionsStarted.inc({ blueprint });
            mirror?.executionStarted(blueprint);
            break;
          case "node.queued": {
            const runtime = nodes.get(event.nodeId)?.runtime;
            if (runtime === undefined || waiting.has(event.nodeId)) break;
            waiting.set(event.nodeId, runtime);
            queued.inc({ runtime });
            mirror?.queued(runtime, 1);
            break;
          }
          case "node.started": {
            unqueue(event.nodeId);
            if (!running.has(event.nodeId)) {
              running.add(event.nodeId);
              inFlight.inc({ runtime: event.runtime });
              mirror?.inFlight(event.runtime, 1);
            }
            break;
          }
          case "node.completed": {
            const node = nodes.get(event.nodeId);
            if (node === undefined) break;
            if (event.cached === true) {
              cacheHits.inc({ node_type: node.type });
              mirror?.cacheHit(node.type);
              break;
            }
            stop(event.nodeId, node.runtime);
            attempt(node.type, node.runtime, "completed", event.durationMs);
            break;
          }
          case "node.failed": {
            const node = nodes.get(event.nodeId);
            if (node === undefined) break;
            stop(event.nodeId, node.runtime);
            attempt(node.type, node.runtime, "failed", event.durationMs);
            if (event.willRetry === true) {
              retries.inc({ node_type: node.type, runtime: node.runtime });
              mirror?.nodeRetried(node.type, node.runtime);
            }
            break;
          }
          case "node.cancelled":
          case "node.skipped": {
            const node = nodes.get(event.nodeId);
            if (node !== undefined) stop(event.nodeId, node.runtime);
            break;
          }
          case "execution.finished":
            for (const nodeId of [...waiting.keys()]) unqueue(nodeId);
            for (const nodeId of [...running]) stop(nodeId, nodes.get(nodeId)?.runtime ?? "");
            executionsFinished.inc({ blueprint, status: event.status });
            executionDuration.observe({ blueprint, status: event.status }, event.durationMs / 1000);
            mirror?.executionFinished(blueprint, event.status, event.durationMs / 1000);
            break;
          default:
        }
      };
    },
  };
}
