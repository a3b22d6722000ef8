//! The stream node types of the conformance kit (docs/protocol.md, section 5): `conformance.count` produces a
//! stream, `conformance.sum` reads one and `conformance.scale` reads a stream of Arrow batches while it produces
//! another.

use conductor_runtime::{
    Context, Empty, Node, NodeError, NodeSpec, Stream, Table, Yield, async_trait,
};
use futures_util::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::examples::scale_table;

#[derive(Deserialize, JsonSchema)]
pub(crate) struct CountInput {
    /// How many integers to yield: 0, 1, …, n - 1.
    n: u64,
    /// Fail after yielding this many items (when below `n`).
    #[serde(rename = "failAt")]
    fail_at: Option<u64>,
    /// Mark a checkpoint after every this many items (its state: the items so far); a retry given where its
    /// stream resumes starts at that state.
    #[serde(rename = "checkpointEvery")]
    #[schemars(range(min = 1))]
    checkpoint_every: Option<u64>,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct CountOutput {
    /// The integers, one item each.
    items: Stream<u64>,
    /// `n`.
    total: u64,
}

pub(crate) struct Count;

#[async_trait]
impl Node for Count {
    type Config = Empty;
    type Input = CountInput;
    type Output = CountOutput;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("conformance.count", "1").title("Stream the integers below n")
    }

    async fn run(
        &self,
        ctx: &Context,
        _: Empty,
        input: CountInput,
    ) -> Result<CountOutput, NodeError> {
        let CountInput {
            n,
            fail_at,
            checkpoint_every,
        } = input;
        let start = ctx
            .resume("items")
            .and_then(|resume| resume.state.as_u64())
            .unwrap_or(0);
        // A lazy stream: the runtime asks it for an item only when it holds a credit, so nothing is built ahead.
        let items = futures_util::stream::iter(start..n).flat_map(move |item| {
            let next = match fail_at {
                Some(fail_at) if item == fail_at => Err(NodeError::permanent(format!(
                    "failed after {fail_at} items"
                ))
                .with_type("conformance.stream-failed")),
                _ => Ok(Yield::Item(item)),
            };
            let mark = checkpoint_every
                .filter(|every| next.is_ok() && (item + 1) % every == 0)
                .map(|_| Ok(Yield::Checkpoint((item + 1).into())));
            futures_util::stream::iter(std::iter::once(next).chain(mark))
        });
        Ok(CountOutput {
            items: Stream::with_checkpoints(items),
            total: n,
        })
    }
}

#[derive(Deserialize, JsonSchema)]
pub(crate) struct SumInput {
    /// The integers to add up.
    items: Stream<i64>,
    /// Stop reading after this many items.
    limit: Option<u64>,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct SumOutput {
    sum: i64,
    count: u64,
}

pub(crate) struct Sum;

#[async_trait]
impl Node for Sum {
    type Config = Empty;
    type Input = SumInput;
    type Output = SumOutput;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("conformance.sum", "1").title("Add up a stream of integers")
    }

    async fn run(&self, _: &Context, _: Empty, input: SumInput) -> Result<SumOutput, NodeError> {
        let SumInput { mut items, limit } = input;
        let (mut sum, mut count) = (0i64, 0u64);
        while limit.is_none_or(|limit| count < limit) {
            // An upstream failure is an `Err` here; `?` lets it fail the step as `stream.upstream`.
            let Some(item) = items.next().await else {
                break;
            };
            sum = sum.wrapping_add(item?);
            count += 1;
        }
        Ok(SumOutput { sum, count })
    }
}

#[derive(Deserialize, JsonSchema)]
pub(crate) struct ScaleInput {
    /// Arrow record batches, one per item.
    batches: Stream<Table>,
    /// What every float64 value is multiplied by.
    factor: f64,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct ScaleOutput {
    /// The batches with every float64 column scaled, the other columns unchanged.
    batches: Stream<Table>,
}

pub(crate) struct Scale;

#[async_trait]
impl Node for Scale {
    type Config = Empty;
    type Input = ScaleInput;
    type Output = ScaleOutput;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("conformance.scale", "1")
            .title("Scale the float64 columns of a stream of batches")
    }

    async fn run(
        &self,
        _: &Context,
        _: Empty,
        input: ScaleInput,
    ) -> Result<ScaleOutput, NodeError> {
        let factor = input.factor;
        // One batch in, one batch out: the node holds one batch at a time.
        let batches = input
            .batches
            .map(move |table| table.and_then(|table| scale_table(&table, factor)));
        Ok(ScaleOutput {
            batches: Stream::new(batches),
        })
    }
}
