//! `rs.scale-batches`: reads a stream of Arrow record batches and yields each one with its float64 columns
//! multiplied by `factor`, the other columns unchanged (the Rust leg of examples/streaming).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::DataType;
use conductor_runtime::{Context, Empty, Node, NodeError, NodeSpec, Stream, Table, async_trait};
use futures_util::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
pub(crate) struct ScaleBatchesInput {
    /// Arrow record batches, one per item.
    batches: Stream<Table>,
    /// What every float64 value is multiplied by.
    factor: f64,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct ScaleBatchesOutput {
    /// The batches with every float64 column scaled, the same schema.
    batches: Stream<Table>,
}

pub(crate) struct ScaleBatches;

#[async_trait]
impl Node for ScaleBatches {
    type Config = Empty;
    type Input = ScaleBatchesInput;
    type Output = ScaleBatchesOutput;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("rs.scale-batches", "1")
            .title("Scale float64 columns")
            .description(
                "Multiplies every float64 column of a stream of Arrow record batches by a factor, batch by batch.",
            )
            .deterministic()
    }

    async fn run(
        &self,
        _: &Context,
        _: Empty,
        input: ScaleBatchesInput,
    ) -> Result<ScaleBatchesOutput, NodeError> {
        let factor = input.factor;
        let batches = input
            .batches
            .map(move |table| table.and_then(|table| scale_table(&table, factor)));
        Ok(ScaleBatchesOutput {
            batches: Stream::new(batches),
        })
    }
}

/// Multiplies every float64 column of every batch of `table` by `factor`; nulls stay null.
pub(crate) fn scale_table(table: &Table, factor: f64) -> Result<Table, NodeError> {
    let batches = table
        .batches()
        .iter()
        .map(|batch| scale_batch(batch, factor))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Table::new(table.schema().clone(), batches))
}

fn scale_batch(batch: &RecordBatch, factor: f64) -> Result<RecordBatch, NodeError> {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|column| match column.data_type() {
            DataType::Float64 => Arc::new(
                column
                    .as_primitive::<Float64Type>()
                    .unary::<_, Float64Type>(|value| value * factor),
            ) as ArrayRef,
            _ => column.clone(),
        })
        .collect();
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}
