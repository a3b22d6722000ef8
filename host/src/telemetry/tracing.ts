import { otlpTracesConfigured } from "@conductor/sdk/telemetry";
import type { Tracing } from "./execution-trace.js";

/**
 * Tracing for the host when the standard OTEL_* environment asks for OTLP export, else `undefined`. The
 * OpenTelemetry SDK is imported only then (a dynamic import), because: with tracing off the host must load nothing
 * and pay nothing on its hot path (docs/telemetry.md).
 */
export async function tracingFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
): Promise<Tracing | undefined> {
  if (!otlpTracesConfigured(env)) return undefined;
  const { createOtelTracing } = await import("./otel-tracing.js");
  return createOtelTracing();
}

/**
 * Tracing for the host whatever the environment says: the OpenTelemetry SDK, exporting over OTLP/HTTP where the
 * OTEL_* variables point (by default http://localhost:4318), or to `exporter` (an OpenTelemetry `SpanExporter`,
 * e.g. for tests). For `createConductor({ tracing })`.
 */
export async function createTracing(options: { exporter?: unknown } = {}): Promise<Tracing> {
  const { createOtelTracing } = await import("./otel-tracing.js");
  return createOtelTracing(options);
}
