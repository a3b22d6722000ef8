import type { FailureInfo, StepRequest } from "@conductor/sdk/protocol";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { BlueprintGraph, GraphNode } from "../blueprint/blueprint-graph.js";
import type { DistributedStats } from "../distributed/distributed.js";
import type { RuntimeHealth } from "../runtime/runtime-connection.js";
import type { ExecutionStatus } from "../scheduler/execution-events.js";
import type { ExecutionTrace } from "./execution-trace.js";

/**
 * Prometheus metrics of a host (docs/telemetry.md lists every series). Labels are bounded: blueprint ids, node
 * types, runtime names and statuses, never execution ids. Fed through the scheduler's execution hooks (the ones
 * tracing uses: `ExecutionTrace`), not its events, because an event listener makes the scheduler build an event per
 * node, which alone cost more than the metrics (bench/src/scenarios/tracing.ts).
 */
export interface ConductorMetrics {
  /** The registry to expose (prom-client's text format: `registry.metrics()`). */
  readonly registry: Registry;
  /** The hooks of one execution of this graph, starting now (the scheduler calls them as the execution runs). */
  execution(graph: BlueprintGraph): ExecutionTrace;
  /** Reads the runtimes' state at each scrape. */
  watchRuntimes(health: () => readonly RuntimeHealth[]): void;
  /**
   * Reads the Redis queues and workers of distributed execution at each scrape (undefined: Redis did not answer,
   * the series are left out). Prometheus only.
   */
  watchDistributed(stats: () => Promise<DistributedStats | undefined>): void;
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
  const executionsStarted = new CellCounter(
    "conductor_executions_started_total",
    "Executions started, by blueprint.",
  );
  const executionsFinished = new CellCounter(
    "conductor_executions_finished_total",
    "Executions finished, by blueprint and status (completed, failed, cancelled).",
  );
  const executionDuration = new CellHistogram(
    "conductor_execution_duration_seconds",
    "Duration of finished executions, by blueprint and status.",
    DURATION_BUCKETS,
  );
  for (const metric of [executionsStarted, executionsFinished, executionDuration])
    registry.registerMetric(metric as unknown as Parameters<Registry["registerMetric"]>[0]);
  const attemptDuration = new CellHistogram(
    "conductor_node_attempt_duration_seconds",
    "Duration of node attempts, by node type, runtime and status (completed, failed).",
    DURATION_BUCKETS,
  );
  registry.registerMetric(attemptDuration as unknown as Parameters<Registry["registerMetric"]>[0]);
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

  // Gauges of steps queued and running per runtime: plain numbers on the scheduler's path, read at each scrape.
  const queuedNow = new Map<string, number>();
  const inFlightNow = new Map<string, number>();
  const bump = (counts: Map<string, number>, runtime: string, delta: 1 | -1) =>
    counts.set(runtime, (counts.get(runtime) ?? 0) + delta);
  new Gauge({
    name: "conductor_runtime_invocations_in_flight",
    help: "Node steps running in each runtime now.",
    labelNames: ["runtime"],
    registers: [registry],
    collect() {
      for (const [runtime, count] of inFlightNow) this.set({ runtime }, count);
    },
  });
  new Gauge({
    name: "conductor_runtime_invocations_queued",
    help: "Node steps sent to each runtime that have not started yet (waiting for a free slot).",
    labelNames: ["runtime"],
    registers: [registry],
    collect() {
      for (const [runtime, count] of queuedNow) this.set({ runtime }, count);
    },
  });
  /** Label sets built once per graph and node, so that the hot path builds none. */
  const labelsOf = new WeakMap<
    BlueprintGraph,
    {
      started: CounterCell;
      finished: Map<string, { count: CounterCell; duration: Cell }>;
      nodes: { completed: Cell; failed: Cell; retry: Labels }[];
    }
  >();
  type Labels = Record<string, string>;
  const bound = (graph: BlueprintGraph) => {
    let labels = labelsOf.get(graph);
    if (labels === undefined) {
      labels = {
        started: executionsStarted.cell({ blueprint: graph.id }),
        finished: new Map(),
        nodes: graph.nodes.map((node) => ({
          completed: attemptDuration.cell({
            node_type: node.type,
            runtime: node.runtime,
            status: "completed",
          }),
          failed: attemptDuration.cell({ node_type: node.type, runtime: node.runtime, status: "failed" }),
          retry: { node_type: node.type, runtime: node.runtime },
        })),
      };
      labelsOf.set(graph, labels);
    }
    return labels;
  };

  return {
    registry,
    watchRuntimes(next) {
      health = next;
      mirror?.watchRuntimes(next);
    },
    watchDistributed(stats) {
      watchDistributed(registry, stats);
    },
    journalCommitted(seconds) {
      journalCommit.observe(seconds);
      mirror?.journalCommitted(seconds);
    },
    flush: () => mirror?.flush() ?? Promise.resolve(),
    shutdown: () => mirror?.shutdown() ?? Promise.resolve(),
    execution(graph) {
      const labels = bound(graph);
      const nodes = graph.nodes;
      const started = performance.now();
      // Per node: 0 idle, 1 queued, 2 running; and when its attempt was sent (ms, monotonic).
      const state = new Uint8Array(nodes.length);
      const sentAt = new Float64Array(nodes.length);
      labels.started.value++;
      mirror?.executionStarted(graph.id);
      const stop = (index: number) => {
        const runtime = nodes[index]!.runtime;
        if (state[index] === 1) {
          bump(queuedNow, runtime, -1);
          mirror?.queued(runtime, -1);
        } else if (state[index] === 2) {
          bump(inFlightNow, runtime, -1);
          mirror?.inFlight(runtime, -1);
        }
        state[index] = 0;
      };
      const queue = (node: GraphNode) => {
        if (state[node.index] !== 0) return;
        state[node.index] = 1;
        sentAt[node.index] = performance.now();
        bump(queuedNow, node.runtime, 1);
        mirror?.queued(node.runtime, 1);
      };
      const attempt = (index: number, status: "completed" | "failed") => {
        const seconds = (performance.now() - sentAt[index]!) / 1000;
        stop(index);
        labels.nodes[index]![status].observe(seconds);
        mirror?.nodeAttempt(nodes[index]!.type, nodes[index]!.runtime, status, seconds);
      };
      return {
        traceparent: undefined,
        dispatch(_runtime: string, dispatched: readonly GraphNode[], _steps: StepRequest[]) {
          for (const node of dispatched) queue(node);
        },
        mapStarted: queue,
        mapItem: () => ignoreEnd,
        attemptTraceparent: () => undefined,
        started(index: number) {
          if (state[index] === 2) return;
          if (state[index] === 1) {
            bump(queuedNow, nodes[index]!.runtime, -1);
            mirror?.queued(nodes[index]!.runtime, -1);
          } else sentAt[index] = performance.now();
          state[index] = 2;
          bump(inFlightNow, nodes[index]!.runtime, 1);
          mirror?.inFlight(nodes[index]!.runtime, 1);
        },
        completed(index: number) {
          attempt(index, "completed");
        },
        failed(index: number, _failure: FailureInfo, retryInMs: number | undefined) {
          attempt(index, "failed");
          if (retryInMs !== undefined) {
            retries.inc(labels.nodes[index]!.retry);
            mirror?.nodeRetried(nodes[index]!.type, nodes[index]!.runtime);
          }
        },
        cancelled: stop,
        abandoned: stop,
        cached(node: GraphNode) {
          cacheHits.inc({ node_type: node.type });
          mirror?.cacheHit(node.type);
        },
        finished(status: ExecutionStatus) {
          for (let index = 0; index < nodes.length; index++) if (state[index] !== 0) stop(index);
          const seconds = (performance.now() - started) / 1000;
          let finished = labels.finished.get(status);
          if (finished === undefined) {
            const series = { blueprint: graph.id, status };
            finished = { count: executionsFinished.cell(series), duration: executionDuration.cell(series) };
            labels.finished.set(status, finished);
          }
          finished.count.value++;
          finished.duration.observe(seconds);
          mirror?.executionFinished(graph.id, status, seconds);
        },
      };
    },
  };
}

const ignoreEnd = () => {};

/** One series of a {@link CellHistogram}: its counts per bucket (not cumulative), sum and count. */
class Cell {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(
    readonly labels: Record<string, string>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Array(bounds.length + 1).fill(0);
  }
  observe(value: number): void {
    let bucket = 0;
    while (bucket < this.bounds.length && value > this.bounds[bucket]!) bucket++;
    this.counts[bucket]!++;
    this.sum += value;
    this.count++;
  }
}

/**
 * A Prometheus histogram whose series are bound once (per node of a graph) and observed without a label lookup:
 * prom-client's `observe` hashes the label set on every call, which on the in-process hot path cost more than the
 * rest of the metrics. Registered in prom-client's registry, which formats it like its own (a metric is an object
 * whose `get()` gives its values).
 */
class CellHistogram {
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly cells = new Map<string, Cell>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly bounds: readonly number[],
  ) {}

  /** The series of these labels (the same object for the same labels). */
  cell(labels: Record<string, string>): Cell {
    return cellOf(this.cells, labels, () => new Cell(labels, this.bounds));
  }

  get(): {
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { labels: Record<string, string | number>; value: number; metricName: string }[];
  } {
    const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
    for (const cell of this.cells.values()) {
      if (cell.count === 0) continue;
      let cumulative = 0;
      for (let bucket = 0; bucket <= this.bounds.length; bucket++) {
        cumulative += cell.counts[bucket]!;
        values.push({
          labels: { ...cell.labels, le: bucket < this.bounds.length ? this.bounds[bucket]! : "+Inf" },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      }
      values.push({ labels: cell.labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels: cell.labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const cell of this.cells.values()) {
      cell.counts.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
  }
}

/** The series of `labels` in `cells`, made by `make` the first time: one object per label set. */
function cellOf<C>(cells: Map<string, C>, labels: Record<string, string>, make: () => C): C {
  const key = JSON.stringify(labels);
  let cell = cells.get(key);
  if (cell === undefined) {
    cell = make();
    cells.set(key, cell);
  }
  return cell;
}

/** One series of a {@link CellCounter}. */
class CounterCell {
  value = 0;
  constructor(readonly labels: Record<string, string>) {}
}

/** A Prometheus counter whose series are bound once and counted without a label lookup (see {@link CellHistogram}). */
class CellCounter {
  readonly type = "counter";
  readonly aggregator = "sum";
  private readonly cells = new Map<string, CounterCell>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  cell(labels: Record<string, string>): CounterCell {
    return cellOf(this.cells, labels, () => new CounterCell(labels));
  }

  get(): {
    name: string;
    help: string;
    type: string;
    aggregator: string;
    values: { labels: Record<string, string>; value: number }[];
  } {
    const values = [...this.cells.values()].map((cell) => ({ labels: cell.labels, value: cell.value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    for (const cell of this.cells.values()) cell.value = 0;
  }
}

/**
 * The series of distributed execution (docs/telemetry.md): jobs per Redis queue and state, live workers per runtime,
 * invocations in flight per worker. One read of Redis per scrape, shared by the three gauges; series of queues and
 * workers gone since the last scrape disappear.
 */
function watchDistributed(registry: Registry, stats: () => Promise<DistributedStats | undefined>): void {
  let read: Promise<DistributedStats | undefined> | undefined;
  const current = () => {
    read ??= stats().finally(() => {
      read = undefined;
    });
    return read;
  };
  new Gauge({
    name: "conductor_redis_queue_jobs",
    help: "Node invocations in each Redis queue of distributed execution, by state (waiting, active, delayed).",
    labelNames: ["queue", "state"],
    registers: [registry],
    async collect() {
      const now = await current();
      this.reset();
      for (const queue of now?.queues ?? []) {
        this.set({ queue: queue.name, state: "waiting" }, queue.waiting);
        this.set({ queue: queue.name, state: "active" }, queue.active);
        this.set({ queue: queue.name, state: "delayed" }, queue.delayed);
      }
    },
  });
  new Gauge({
    name: "conductor_workers_connected",
    help: "Live workers serving each runtime (a worker serving two runtimes counts for both).",
    labelNames: ["runtime"],
    registers: [registry],
    async collect() {
      const now = await current();
      this.reset();
      if (now === undefined) return;
      const counts = new Map<string, number>();
      for (const worker of now.workers)
        for (const runtime of worker.runtimes) counts.set(runtime, (counts.get(runtime) ?? 0) + 1);
      for (const [runtime, count] of counts) this.set({ runtime }, count);
    },
  });
  new Gauge({
    name: "conductor_worker_invocations_in_flight",
    help: "Invocations running on each live worker, as of its last heartbeat.",
    labelNames: ["worker"],
    registers: [registry],
    async collect() {
      const now = await current();
      this.reset();
      for (const worker of now?.workers ?? []) this.set({ worker: worker.id }, worker.inFlight);
    },
  });
}
