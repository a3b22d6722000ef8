//! The conformance "kitchen sink" (docs/protocol.md, section 5): the node types every runtime serves identically,
//! plus `conformance.panic`, which proves that a Rust panic becomes a failure.

mod streams;

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use conductor_runtime::{
    Bytes, Context, Empty, Node, NodeError, NodeSpec, Registry, Table, Value, async_trait,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Number, json};

/// The registry of the conformance runtime.
pub fn registry() -> Registry {
    Registry::new()
        .version(env!("CARGO_PKG_VERSION"))
        .node(Echo)
        .node(Produce)
        .node(Add)
        .node(Fail)
        .node(Throw)
        .node(Sleep)
        .node(Report)
        .node(Crash)
        .node(Print)
        .node(Panic)
        .node(streams::Count)
        .node(streams::Sum)
        .node(streams::Scale)
}

/// One value of any encoding.
#[derive(Serialize, Deserialize, JsonSchema)]
struct ValuePort {
    value: Value,
}

struct Echo;

#[async_trait]
impl Node for Echo {
    type Config = Empty;
    type Input = ValuePort;
    type Output = ValuePort;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("conformance.echo", "1").title("Return the input value unchanged")
    }

    async fn run(&self, _: &Context, _: Empty, input: ValuePort) -> Result<ValuePort, NodeError> {
        Ok(input)
    }
}

#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
enum ProduceKind {
    Json,
    Bytes,
    Arrow,
    Large,
}

#[derive(Deserialize, JsonSchema)]
struct ProduceConfig {
    kind: ProduceKind,
    /// For `large`: how many bytes.
    size: Option<u64>,
}

struct Produce;

#[async_trait]
impl Node for Produce {
    type Config = ProduceConfig;
    type Input = Empty;
    type Output = ValuePort;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("conformance.produce", "1")
            .title("Produce a fixed value of one encoding")
            .deterministic()
    }

    async fn run(
        &self,
        _: &Context,
        config: ProduceConfig,
        _: Empty,
    ) -> Result<ValuePort, NodeError> {
        let value = match config.kind {
            ProduceKind::Json => Value::Json(json!({
                "string": "héllo ✓",
                "integer": 42,
                "big": 9_007_199_254_740_993_u64,
                "float": 1.5,
                "boolean": true,
                "null": null,
                "list": [1, "two", 3.5],
                "nested": {"a": {"b": []}},
            })),
            ProduceKind::Bytes => Value::Bytes(Bytes::from((0..=255u8).collect::<Vec<_>>())),
            ProduceKind::Arrow => {
                let columns: [(&str, ArrayRef); 3] = [
                    ("id", Arc::new(Int64Array::from(vec![1, 2, 3]))),
                    (
                        "name",
                        Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
                    ),
                    (
                        "score",
                        Arc::new(Float64Array::from(vec![Some(0.5), None, Some(2.5)])),
                    ),
                ];
                Value::Table(Table::from_batch(RecordBatch::try_from_iter(columns)?))
            }
            ProduceKind::Large => {
                let size = usize::try_from(config.size.unwrap_or(0))?;
                Value::Bytes(Bytes::from(
                    (0..size).map(|i| (i % 251) as u8).collect::<Vec<_>>(),
                ))
            }
        };
        Ok(ValuePort { value })
    }
}

#[derive(Deserialize, JsonSchema)]
struct AddConfig {
    offset: Option<Number>,
}

#[derive(Deserialize, JsonSchema)]
struct AddInput {
    a: Number,
    b: Number,
}

#[derive(Serialize, JsonSchema)]
struct AddOutput {
    sum: Number,
}

struct Add;

#[async_trait]
impl Node for Add {
    type Config = AddConfig;
    type Input = AddInput;
    type Output = AddOutput;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("conformance.add", "1")
            .title("Add two numbers and an offset")
            .idempotent()
            .deterministic()
    }

    async fn run(
        &self,
        _: &Context,
        config: AddConfig,
        input: AddInput,
    ) -> Result<AddOutput, NodeError> {
        let offset = config.offset.unwrap_or_else(|| Number::from(0));
        // Integers stay exact integers; anything else is added as floating point.
        let exact = [&input.a, &input.b, &offset]
            .iter()
            .map(|number| number.as_i64())
            .try_fold(0i64, |sum, term| sum.checked_add(term?));
        let sum = match exact {
            Some(sum) => Number::from(sum),
            None => {
                let float = [&input.a, &input.b, &offset]
                    .iter()
                    .map(|number| number.as_f64().unwrap_or(f64::NAN))
                    .sum::<f64>();
                Number::from_f64(float)
                    .ok_or_else(|| NodeError::permanent("the sum is not a finite number"))?
            }
        };
        Ok(AddOutput { sum })
    }
}

#[derive(Deserialize, JsonSchema)]
struct FailConfig {
    message: String,
    retryable: bool,
    #[serde(rename = "type")]
    kind: Option<String>,
}

struct Fail;

#[async_trait]
impl Node for Fail {
    type Config = FailConfig;
    type Input = Empty;
    type Output = Empty;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("conformance.fail", "1").title("Fail with the configured failure")
    }

    async fn run(&self, _: &Context, config: FailConfig, _: Empty) -> Result<Empty, NodeError> {
        Err(NodeError::new(config.message)
            .retryable(config.retryable)
            .with_type(
                config
                    .kind
                    .unwrap_or_else(|| "conformance.failure".to_owned()),
            )
            .details(json!({"code": 7})))
    }
}

#[derive(Deserialize, JsonSchema)]
struct MessageConfig {
    message: String,
}

struct Throw;

#[async_trait]
impl Node for Throw {
    type Config = MessageConfig;
    type Input = Empty;
    type Output = Empty;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("conformance.throw", "1").title("Return an ordinary Rust error")
    }

    async fn run(&self, _: &Context, config: MessageConfig, _: Empty) -> Result<Empty, NodeError> {
        let error = std::io::Error::other(config.message);
        Err(error)?
    }
}

#[derive(Deserialize, JsonSchema)]
struct SleepConfig {
    ms: u64,
}

#[derive(Serialize, JsonSchema)]
struct SleepOutput {
    slept_ms: u64,
}

struct Sleep;

#[async_trait]
impl Node for Sleep {
    type Config = SleepConfig;
    type Input = Empty;
    type Output = SleepOutput;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("conformance.sleep", "1")
            .title("Sleep, reacting to cancellation at once")
            .cancellable()
    }

    async fn run(
        &self,
        ctx: &Context,
        config: SleepConfig,
        _: Empty,
    ) -> Result<SleepOutput, NodeError> {
        let started = Instant::now();
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(config.ms)) => Ok(SleepOutput { slept_ms: config.ms }),
            () = ctx.cancelled().cancelled() => Err(NodeError::new(format!(
                "cancelled after {} ms",
                started.elapsed().as_millis()
            ))),
        }
    }
}

#[derive(Serialize, JsonSchema)]
struct ReportOutput {
    done: bool,
}

struct Report;

#[async_trait]
impl Node for Report {
    type Config = Empty;
    type Input = Empty;
    type Output = ReportOutput;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("conformance.report", "1")
            .title("Log, report progress and stream chunks")
            .streaming()
    }

    async fn run(&self, ctx: &Context, _: Empty, _: Empty) -> Result<ReportOutput, NodeError> {
        tracing::info!(n = 1, "hello from rust");
        ctx.progress(0.5, "half");
        for item in 0..3 {
            ctx.emit("items", item)?;
        }
        ctx.progress(1.0, "done");
        Ok(ReportOutput { done: true })
    }
}

struct Crash;

#[async_trait]
impl Node for Crash {
    type Config = Empty;
    type Input = Empty;
    type Output = Empty;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("conformance.crash", "1").title("Exit the process with status 3")
    }

    async fn run(&self, _: &Context, _: Empty, _: Empty) -> Result<Empty, NodeError> {
        std::process::exit(3);
    }
}

#[derive(Serialize, JsonSchema)]
struct PrintOutput {
    ok: bool,
}

struct Print;

#[async_trait]
impl Node for Print {
    type Config = Empty;
    type Input = Empty;
    type Output = PrintOutput;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("conformance.print", "1").title("Write noise to stdout and stderr")
    }

    async fn run(&self, _: &Context, _: Empty, _: Empty) -> Result<PrintOutput, NodeError> {
        println!("noise");
        eprintln!("noise");
        Ok(PrintOutput { ok: true })
    }
}

struct Panic;

#[async_trait]
impl Node for Panic {
    type Config = Empty;
    type Input = Empty;
    type Output = Empty;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("conformance.panic", "1").title("Panic with the message \"boom\"")
    }

    async fn run(&self, _: &Context, _: Empty, _: Empty) -> Result<Empty, NodeError> {
        panic!("boom");
    }
}
