/**
 * OpenTelemetry for the Node runtimes and the host: when the standard `OTEL_*` environment asks for it, spans
 * that node code creates nest under the host's span of the node attempt (docs/telemetry.md). Nothing here loads
 * the OpenTelemetry SDK until {@link installNodeTracing} is called.
 */

export type { NodeTracing, NodeTracingOptions } from "./node-tracing.js";
export { installNodeTracing } from "./node-tracing.js";
export { otlpTracesConfigured } from "./otel-environment.js";
export { type StepTraceRunner, setStepTraceRunner, stepTraceRunner } from "./step-trace.js";
