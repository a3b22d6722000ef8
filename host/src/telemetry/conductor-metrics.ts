import type { FailureInfo } from "@conductor/sdk/protocol";
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
   * Reads the node steps sent to runtimes and not ended (queued, or running) at each scrape, for the queued and
   * in-flight gauges: `steps` visits those of every running execution (`Execution.visitSteps`).
   */
  watchSteps(steps: StepVisitor): void;
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
/** Visits the node steps sent to runtimes and not ended, each with whether its runtime started it. */
export type StepVisitor = (visit: (node: GraphNode, running: boolean) => void) => void;

export interface MetricsMirror {
  executionStarted(blueprint: string): void;
  executionFinished(blueprint: string, status: string, seconds: number): void;
  nodeAttempt(nodeType: string, runtime: string, status: "completed" | "failed", seconds: number): void;
  nodeRetried(nodeType: string, runtime: string): void;
  cacheHit(nodeType: string): void;
  /** Reads the steps queued and running per runtime at each collection (see {@link ConductorMetrics.watchSteps}). */
  watchSteps(counts: () => Iterable<RuntimeCounts>): void;
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

  // Gauges of steps queued and running per runtime, counted at each scrape from the running executions' own node
  // states (their live units), so that the scheduler's path counts nothing per node. A runtime that a graph's node
  // names keeps its series (at 0) once seen.
  const runtimeCounts = new Map<string, RuntimeCounts>();
  const countsOf = (runtime: string): RuntimeCounts => {
    let counts = runtimeCounts.get(runtime);
    if (counts === undefined) {
      counts = { runtime, queued: 0, inFlight: 0 };
      runtimeCounts.set(runtime, counts);
    }
    return counts;
  };
  let steps: StepVisitor | undefined;
  const countSteps = (): Iterable<RuntimeCounts> => {
    for (const counts of runtimeCounts.values()) {
      counts.queued = 0;
      counts.inFlight = 0;
    }
    steps?.((node, running) => {
      const counts = countsOf(node.runtime);
      if (running) counts.inFlight++;
      else counts.queued++;
    });
    return runtimeCounts.values();
  };
  new Gauge({
    name: "conductor_runtime_invocations_in_flight",
    help: "Node steps running in each runtime now.",
    labelNames: ["runtime"],
    registers: [registry],
    collect() {
      for (const counts of countSteps()) this.set({ runtime: counts.runtime }, counts.inFlight);
    },
  });
  new Gauge({
    name: "conductor_runtime_invocations_queued",
    help: "Node steps sent to each runtime that have not started yet (waiting for a free slot).",
    labelNames: ["runtime"],
    registers: [registry],
    collect() {
      for (const counts of countSteps()) this.set({ runtime: counts.runtime }, counts.queued);
    },
  });
  /** Label sets built once per graph and node, so that the hot path builds none. */
  const labelsOf = new WeakMap<BlueprintGraph, GraphSeries>();
  const bound = (graph: BlueprintGraph): GraphSeries => {
    let labels = labelsOf.get(graph);
    if (labels === undefined) {
      labels = {
        started: executionsStarted.cell({ blueprint: graph.id }),
        finished: new Map(),
        completed: graph.nodes.map((node) =>
          attemptDuration.cell({ node_type: node.type, runtime: node.runtime, status: "completed" }),
        ),
        failed: graph.nodes.map((node) =>
          attemptDuration.cell({ node_type: node.type, runtime: node.runtime, status: "failed" }),
        ),
        retry: graph.nodes.map((node) => ({ node_type: node.type, runtime: node.runtime })),
      };
      for (const node of graph.nodes) countsOf(node.runtime);
      labelsOf.set(graph, labels);
    }
    return labels;
  };

  mirror?.watchSteps(countSteps);
  return {
    registry,
    watchRuntimes(next) {
      health = next;
      mirror?.watchRuntimes(next);
    },
    watchSteps(next) {
      steps = next;
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
      const series = bound(graph);
      series.started.value++;
      mirror?.executionStarted(graph.id);
      series.hooks ??= new GraphMetrics(
        graph,
        series,
        retries,
        cacheHits,
        executionsFinished,
        executionDuration,
        mirror,
      );
      return series.hooks;
    },
  };
}

/** The steps of one runtime now queued and running (the gauges' values, counted at a scrape). */
export interface RuntimeCounts {
  readonly runtime: string;
  queued: number;
  inFlight: number;
}

/** The series of one graph, bound once; by node index (flat arrays: the hooks read one element per call). */
interface GraphSeries {
  started: CounterCell;
  finished: Map<string, { count: CounterCell; duration: Cell }>;
  completed: Cell[];
  failed: Cell[];
  retry: Record<string, string>[];
  /** The hooks of this graph's executions (they keep no state of an execution: one object serves them all). */
  hooks?: GraphMetrics;
}

/**
 * The metrics hooks of a graph's executions. One object per graph, with no state of an execution: an attempt's
 * observation goes into the series bound to its node (flat arrays by node index), and the queued and in-flight
 * gauges are counted at each scrape from the executions themselves, so that the scheduler's per-node hooks that
 * metrics need are the attempt's end alone (the others are empty, one well-predicted call each).
 */
class GraphMetrics implements ExecutionTrace {
  readonly traceparent = undefined;
  private readonly completedCells: Cell[];

  constructor(
    private readonly graph: BlueprintGraph,
    private readonly series: GraphSeries,
    private readonly retries: Counter,
    private readonly cacheHits: Counter,
    private readonly executionsFinished: CellCounter,
    private readonly executionDuration: CellHistogram,
    private readonly mirror: MetricsMirror | undefined,
  ) {
    this.completedCells = series.completed;
  }

  dispatch(): void {}

  mapStarted(): void {}

  mapItem(): () => void {
    return ignoreEnd;
  }

  attemptTraceparent(): undefined {
    return undefined;
  }

  started(): void {}

  completed(index: number, durationUs: number): void {
    this.completedCells[index]!.observe(durationUs / 1e6);
    if (this.mirror !== undefined) this.mirrorAttempt(index, "completed", durationUs / 1e6);
  }

  failed(index: number, _failure: FailureInfo, retryInMs: number | undefined, durationUs: number): void {
    this.series.failed[index]!.observe(durationUs / 1e6);
    if (this.mirror !== undefined) this.mirrorAttempt(index, "failed", durationUs / 1e6);
    if (retryInMs !== undefined) {
      const node = this.graph.nodes[index]!;
      this.retries.inc(this.series.retry[index]!);
      this.mirror?.nodeRetried(node.type, node.runtime);
    }
  }

  cancelled(): void {}

  abandoned(): void {}

  cached(node: GraphNode): void {
    this.cacheHits.inc({ node_type: node.type });
    this.mirror?.cacheHit(node.type);
  }

  finished(status: ExecutionStatus, _failure: FailureInfo | undefined, durationMs: number): void {
    const seconds = durationMs / 1000;
    let finished = this.series.finished.get(status);
    if (finished === undefined) {
      const series = { blueprint: this.graph.id, status };
      finished = {
        count: this.executionsFinished.cell(series),
        duration: this.executionDuration.cell(series),
      };
      this.series.finished.set(status, finished);
    }
    finished.count.value++;
    finished.duration.observe(seconds);
    this.mirror?.executionFinished(this.graph.id, status, seconds);
  }

  private mirrorAttempt(index: number, status: "completed" | "failed", seconds: number): void {
    const node = this.graph.nodes[index]!;
    this.mirror!.nodeAttempt(node.type, node.runtime, status, seconds);
  }
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
