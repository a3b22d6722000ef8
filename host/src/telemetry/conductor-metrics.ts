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
}

/** Seconds: from a millisecond in-process node to a long-running one. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300];

/** Creates the metrics, with Node's process metrics (`process_*`, `nodejs_*`) in the same registry. */
export function createConductorMetrics(): ConductorMetrics {
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
    },
    journalCommitted(seconds) {
      journalCommit.observe(seconds);
    },
    observe(graph) {
      const nodes = new Map(graph.nodes.map((node) => [node.id, node]));
      const running = new Set<string>();
      const blueprint = graph.id;
      const stop = (nodeId: string, runtime: string) => {
        if (running.delete(nodeId)) inFlight.dec({ runtime });
      };
      return (event) => {
        switch (event.type) {
          case "execution.started":
            executionsStarted.inc({ blueprint });
            break;
          case "node.started": {
            if (!running.has(event.nodeId)) {
              running.add(event.nodeId);
              inFlight.inc({ runtime: event.runtime });
            }
            break;
          }
          case "node.completed": {
            const node = nodes.get(event.nodeId);
            if (node === undefined) break;
            if (event.cached === true) {
              cacheHits.inc({ node_type: node.type });
              break;
            }
            stop(event.nodeId, node.runtime);
            attemptDuration.observe(
              { node_type: node.type, runtime: node.runtime, status: "completed" },
              event.durationMs / 1000,
            );
            break;
          }
          case "node.failed": {
            const node = nodes.get(event.nodeId);
            if (node === undefined) break;
            stop(event.nodeId, node.runtime);
            attemptDuration.observe(
              { node_type: node.type, runtime: node.runtime, status: "failed" },
              event.durationMs / 1000,
            );
            if (event.willRetry === true) retries.inc({ node_type: node.type, runtime: node.runtime });
            break;
          }
          case "node.cancelled": {
            const node = nodes.get(event.nodeId);
            if (node !== undefined) stop(event.nodeId, node.runtime);
            break;
          }
          case "execution.finished":
            for (const nodeId of [...running]) stop(nodeId, nodes.get(nodeId)?.runtime ?? "");
            executionsFinished.inc({ blueprint, status: event.status });
            executionDuration.observe({ blueprint, status: event.status }, event.durationMs / 1000);
            break;
          default:
        }
      };
    },
  };
}
