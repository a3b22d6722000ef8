//! `rs.traced`: creates a span with the standard OpenTelemetry API. With the runtime's `telemetry` feature the
//! span nests under the host's span of the node attempt (docs/telemetry.md); the end-to-end trace test reads it.

use conductor_runtime::{Context, Empty, Node, NodeError, NodeSpec, async_trait};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span, Tracer};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
pub(crate) struct TracedInput {
    /// A number to pass on.
    x: i64,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct TracedOutput {
    /// `x`, unchanged.
    x: i64,
}

pub(crate) struct Traced;

#[async_trait]
impl Node for Traced {
    type Config = Empty;
    type Input = TracedInput;
    type Output = TracedOutput;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("rs.traced", "1")
            .title("Traced")
            .description("Passes x on inside a span made with the OpenTelemetry API (`rust work`).")
    }

    async fn run(
        &self,
        _: &Context,
        _: Empty,
        input: TracedInput,
    ) -> Result<TracedOutput, NodeError> {
        let tracer = opentelemetry::global::tracer("conductor-example-nodes");
        let mut span = tracer.start("rust work");
        span.set_attribute(KeyValue::new("example.x", input.x));
        span.end();
        Ok(TracedOutput { x: input.x })
    }
}
