import type { Attributes } from "@opentelemetry/api";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { defaultResource, resourceFromAttributes } from "@opentelemetry/resources";
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics";
import type { RuntimeHealth } from "../runtime/runtime-connection.js";
import type { MetricsMirror, RuntimeCounts } from "./conductor-metrics.js";

/** Seconds, as the Prometheus histograms (conductor-metrics.ts). */
const DURATION_BUCKETS = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300];
const COMMIT_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1];

/**
 * The OTLP export of Conductor's metrics: the same measurements as the Prometheus registry, recorded into
 * OpenTelemetry instruments and pushed over OTLP/HTTP (protobuf) every `OTEL_METRIC_EXPORT_INTERVAL` ms (default
 * 60 s) to where the standard OTEL_* variables point. Imported only when they ask for it (see
 * `otlpMetricsConfigured`), because the SDK costs a command's start-up nothing otherwise. Names follow
 * OpenTelemetry's conventions (dots, units apart), attributes are the Prometheus labels (docs/telemetry.md).
 */
export function createOtlpMetrics(
  env: NodeJS.ProcessEnv = process.env,
  options: { exporter?: unknown } = {},
): MetricsMirror {
  const interval = Number(env.OTEL_METRIC_EXPORT_INTERVAL ?? "60000");
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || "conductor";
  const reader = new PeriodicExportingMetricReader({
    exporter: (options.exporter as OTLPMetricExporter | undefined) ?? new OTLPMetricExporter(),
    exportIntervalMillis: Number.isFinite(interval) && interval > 0 ? interval : 60_000,
  });
  const provider = new MeterProvider({
    resource: defaultResource().merge(resourceFromAttributes({ "service.name": serviceName })),
    readers: [reader],
  });
  const meter = provider.getMeter("conductor");
  const seconds = (name: string, description: string, buckets: number[]) =>
    meter.createHistogram(name, { description, unit: "s", advice: { explicitBucketBoundaries: buckets } });
  const executionsStarted = meter.createCounter("conductor.executions.started", {
    description: "Executions started, by blueprint.",
  });
  const executionsFinished = meter.createCounter("conductor.executions.finished", {
    description: "Executions finished, by blueprint and status (completed, failed, cancelled).",
  });
  const executionDuration = seconds(
    "conductor.execution.duration",
    "Duration of finished executions, by blueprint and status.",
    DURATION_BUCKETS,
  );
  const attemptDuration = seconds(
    "conductor.node.attempt.duration",
    "Duration of node attempts, by node type, runtime and status (completed, failed).",
    DURATION_BUCKETS,
  );
  const retries = meter.createCounter("conductor.node.retries", {
    description: "Node attempts that failed and are tried again, by node type and runtime.",
  });
  const cacheHits = meter.createCounter("conductor.node.cache_hits", {
    description: "Nodes completed from the result cache, by node type.",
  });
  // Counted at each collection from the running executions (see `ConductorMetrics.watchSteps`).
  let steps: (() => Iterable<RuntimeCounts>) | undefined;
  meter
    .createObservableUpDownCounter("conductor.runtime.invocations.in_flight", {
      description: "Node steps running in each runtime now.",
    })
    .addCallback((result) => {
      for (const counts of steps?.() ?? []) result.observe(counts.inFlight, { runtime: counts.runtime });
    });
  meter
    .createObservableUpDownCounter("conductor.runtime.invocations.queued", {
      description: "Node steps sent to each runtime that have not started yet (waiting for a free slot).",
    })
    .addCallback((result) => {
      for (const counts of steps?.() ?? []) result.observe(counts.queued, { runtime: counts.runtime });
    });
  const journalCommit = seconds(
    "conductor.journal.commit.duration",
    "Duration of the journal's commits.",
    COMMIT_BUCKETS,
  );
  let health: (() => readonly RuntimeHealth[]) | undefined;
  meter
    .createObservableGauge("conductor.runtime.restarts", {
      description: "How many times each runtime was restarted since the host started.",
    })
    .addCallback((result) => {
      for (const runtime of health?.() ?? []) result.observe(runtime.restarts, { runtime: runtime.name });
    });
  meter
    .createObservableGauge("conductor.runtime.up", {
      description: "1 when the runtime serves, 0 while it starts, restarts or is broken.",
    })
    .addCallback((result) => {
      for (const runtime of health?.() ?? [])
        result.observe(runtime.state === "ok" ? 1 : 0, { runtime: runtime.name });
    });

  return {
    executionStarted: (blueprint) => executionsStarted.add(1, { blueprint }),
    executionFinished: (blueprint, status, duration) => {
      const attributes: Attributes = { blueprint, status };
      executionsFinished.add(1, attributes);
      executionDuration.record(duration, attributes);
    },
    nodeAttempt: (nodeType, runtime, status, duration) =>
      attemptDuration.record(duration, { node_type: nodeType, runtime, status }),
    nodeRetried: (nodeType, runtime) => retries.add(1, { node_type: nodeType, runtime }),
    cacheHit: (nodeType) => cacheHits.add(1, { node_type: nodeType }),
    watchSteps: (counts) => {
      steps = counts;
    },
    journalCommitted: (duration) => journalCommit.record(duration),
    watchRuntimes: (next) => {
      health = next;
    },
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
