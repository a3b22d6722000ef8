//! OpenTelemetry for the code of nodes (cargo feature `telemetry`).
//!
//! The host sends each step the W3C trace context of its span for the node attempt (`Step.traceparent`). While the
//! step runs, that context is current, so spans a node creates with the `opentelemetry` API nest under the host's
//! span with no extra code. When the standard `OTEL_*` environment names an OTLP endpoint, the runtime installs a
//! tracer provider that exports those spans over OTLP/HTTP in batches. The runtime makes no span of its own per
//! step: the host's span of the attempt shows the step, and a span per step (made, encoded and exported by every
//! runtime process) cost more than the step. Without the feature, or without a traceparent, a step runs exactly as
//! before (docs/telemetry.md).

use std::collections::HashMap;
use std::future::Future;
use std::sync::OnceLock;

use futures_util::future::Either;
use opentelemetry::global;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::FutureExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// The provider this runtime installed, or `None` when the environment asks for no export.
static PROVIDER: OnceLock<Option<SdkTracerProvider>> = OnceLock::new();

/// Whether the `OTEL_*` environment asks for OTLP export of traces: an endpoint is named, the SDK is not disabled,
/// and the traces exporter is not `none`.
fn export_configured() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
    let disabled =
        std::env::var("OTEL_SDK_DISABLED").is_ok_and(|value| value.eq_ignore_ascii_case("true"));
    let exporter_none = std::env::var("OTEL_TRACES_EXPORTER").is_ok_and(|value| value == "none");
    (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
        && !disabled
        && !exporter_none
}

fn provider() -> Option<&'static SdkTracerProvider> {
    PROVIDER
        .get_or_init(|| {
            if !export_configured() {
                return None;
            }
            // Because the blocking HTTP client may not be created on an async runtime's thread, the exporter is
            // built on a thread of its own.
            let exporter = std::thread::spawn(|| {
                opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .build()
            })
            .join()
            .ok()?
            .map_err(|error| eprintln!("conductor-runtime: OTLP trace export is off: {error}"))
            .ok()?;
            let mut resource = opentelemetry_sdk::Resource::builder();
            let named =
                std::env::var("OTEL_SERVICE_NAME").is_ok_and(|name| !name.trim().is_empty());
            if !named {
                resource = resource.with_service_name("conductor-runtime-rust");
            }
            let resource = resource.build();
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(resource)
                .build();
            global::set_tracer_provider(provider.clone());
            Some(provider)
        })
        .as_ref()
}

/// What a step needs to be traced, taken from its `Step` message.
pub(crate) struct StepTrace<'a> {
    pub(crate) traceparent: &'a str,
    pub(crate) tracestate: &'a str,
}

/// Runs `future` with the step's trace context current; returns it unchanged when the step carries no
/// traceparent. The first traced step installs the exporting tracer provider (when export is configured), so that
/// the spans the node's code makes are exported.
pub(crate) fn instrument<F: Future>(
    future: F,
    step: &StepTrace<'_>,
) -> impl Future<Output = F::Output> + use<F> {
    if step.traceparent.is_empty() {
        return Either::Left(future);
    }
    provider();
    let mut carrier = HashMap::with_capacity(2);
    carrier.insert("traceparent".to_owned(), step.traceparent.to_owned());
    if !step.tracestate.is_empty() {
        carrier.insert("tracestate".to_owned(), step.tracestate.to_owned());
    }
    let parent = TraceContextPropagator::new().extract(&carrier);
    Either::Right(future.with_context(parent))
}

/// Exports the spans not yet exported; called before the process exits.
pub(crate) fn flush() {
    if let Some(Some(provider)) = PROVIDER.get() {
        let _ = provider.force_flush();
    }
}
