//! Turns `tracing` events inside a node into `Log` events of its step; everything else goes to stderr.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::{Event, Level, Metadata, Subscriber, subscriber::Interest};
use tracing_subscriber::layer::{Context as LayerContext, Layer};

use crate::context::StepScope;
use crate::pb;

tokio::task_local! {
    /// The step whose node code is running on this task.
    pub(crate) static CURRENT_STEP: Arc<StepScope>;
}

/// A `tracing-subscriber` layer that sends events logged inside a node to the host as `Log` events of the running
/// step, and writes every other event to stderr.
///
/// [`crate::serve`] installs it as the global subscriber when none is set. Add it to your own subscriber if you
/// install one: `tracing_subscriber::registry().with(StepLogLayer::from_env())`.
#[derive(Debug, Clone, Copy)]
pub struct StepLogLayer {
    max_level: LevelFilter,
}

impl StepLogLayer {
    /// Logs `INFO` and above, or the level named by `RUST_LOG` (`error`, `warn`, `info`, `debug`, `trace`).
    pub fn from_env() -> Self {
        let max_level = std::env::var("RUST_LOG")
            .ok()
            .and_then(|level| level.trim().parse::<LevelFilter>().ok())
            .unwrap_or(LevelFilter::INFO);
        Self { max_level }
    }
}

impl<S: Subscriber> Layer<S> for StepLogLayer {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.max_level >= *metadata.level() {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: LayerContext<'_, S>) -> bool {
        self.max_level >= *metadata.level()
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max_level)
    }

    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        let mut fields = FieldsJson::default();
        event.record(&mut fields);
        let level = *event.metadata().level();
        let sent = CURRENT_STEP.try_with(|step| {
            step.send(pb::event::Kind::Log(pb::Log {
                level: wire_level(level) as i32,
                message: std::mem::take(&mut fields.message),
                fields_json: if fields.fields.is_empty() {
                    bytes::Bytes::new()
                } else {
                    serde_json::to_vec(&fields.fields)
                        .unwrap_or_default()
                        .into()
                },
            }));
        });
        if sent.is_err() {
            let mut line = format!("{level} {}: {}", event.metadata().target(), fields.message);
            if !fields.fields.is_empty() {
                let _ = write!(line, " {}", serde_json::Value::Object(fields.fields));
            }
            eprintln!("{line}");
        }
    }
}

fn wire_level(level: Level) -> pb::log::Level {
    match level {
        Level::ERROR => pb::log::Level::Error,
        Level::WARN => pb::log::Level::Warn,
        Level::INFO => pb::log::Level::Info,
        _ => pb::log::Level::Debug,
    }
}

/// Collects an event's message and its other fields as a JSON object.
#[derive(Default)]
struct FieldsJson {
    message: String,
    fields: serde_json::Map<String, serde_json::Value>,
}

impl FieldsJson {
    fn put(&mut self, field: &Field, value: serde_json::Value) {
        self.fields.insert(field.name().to_owned(), value);
    }
}

impl Visit for FieldsJson {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
        } else {
            self.put(field, value.into());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.message = format!("{value:?}");
        } else {
            self.put(field, format!("{value:?}").into());
        }
    }
}
