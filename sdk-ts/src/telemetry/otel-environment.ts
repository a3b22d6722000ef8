/**
 * Whether the standard OpenTelemetry environment asks for traces to be exported over OTLP: an endpoint is named
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), the SDK is not disabled
 * (`OTEL_SDK_DISABLED`) and the traces exporter is not `none`. The host, the Node sidecar and the Python and Rust
 * runtimes all follow this one rule, so one environment turns tracing on everywhere (docs/telemetry.md).
 * Reading it loads nothing: the OpenTelemetry SDK is imported only when this is true.
 */
export function otlpTracesConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  const named = (name: string) => (env[name] ?? "").trim() !== "";
  return (
    (named("OTEL_EXPORTER_OTLP_ENDPOINT") || named("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) &&
    (env.OTEL_SDK_DISABLED ?? "").toLowerCase() !== "true" &&
    env.OTEL_TRACES_EXPORTER !== "none"
  );
}
