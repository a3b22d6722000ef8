//! `rs.stats`: per numeric column of an Arrow table, count, null count, min, max, mean and standard deviation.

use arrow_arith::aggregate;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrowNumericType, PrimitiveArray};
use arrow_schema::DataType;
use conductor_runtime::{Context, Empty, Node, NodeError, NodeSpec, Table, async_trait};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

#[derive(Deserialize, JsonSchema)]
pub(crate) struct StatsInput {
    /// The table to describe.
    table: Table,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct StatsOutput {
    /// For every numeric column, by name: `count` (non-null values), `null_count`, `min`, `max`, `mean` and
    /// `stddev` (sample standard deviation, n - 1); `null` where undefined.
    stats: Map<String, Json>,
    /// Rows in the table.
    rows: u64,
}

pub(crate) struct Stats;

#[async_trait]
impl Node for Stats {
    type Config = Empty;
    type Input = StatsInput;
    type Output = StatsOutput;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("rs.stats", "1")
            .title("Column statistics")
            .description(
                "Count, null count, min, max, mean and standard deviation of every numeric column.",
            )
            .idempotent()
            .deterministic()
    }

    async fn run(
        &self,
        _: &Context,
        _: Empty,
        input: StatsInput,
    ) -> Result<StatsOutput, NodeError> {
        let table = input.table;
        let mut stats = Map::new();
        for (index, field) in table.schema().fields().iter().enumerate() {
            let columns: Vec<&dyn Array> = table
                .batches()
                .iter()
                .map(|batch| batch.column(index).as_ref())
                .collect();
            let column = match field.data_type() {
                DataType::Int8 => describe::<Int8Type>(&columns, |v| v.into(), |v| v.into()),
                DataType::Int16 => describe::<Int16Type>(&columns, |v| v.into(), |v| v.into()),
                DataType::Int32 => describe::<Int32Type>(&columns, |v| v.into(), |v| v.into()),
                DataType::Int64 => describe::<Int64Type>(&columns, |v| v as f64, |v| v.into()),
                DataType::UInt8 => describe::<UInt8Type>(&columns, |v| v.into(), |v| v.into()),
                DataType::UInt16 => describe::<UInt16Type>(&columns, |v| v.into(), |v| v.into()),
                DataType::UInt32 => describe::<UInt32Type>(&columns, |v| v.into(), |v| v.into()),
                DataType::UInt64 => describe::<UInt64Type>(&columns, |v| v as f64, |v| v.into()),
                DataType::Float32 => {
                    describe::<Float32Type>(&columns, f64::from, |v| f64::from(v).into())
                }
                DataType::Float64 => describe::<Float64Type>(&columns, |v| v, |v| v.into()),
                _ => continue,
            };
            stats.insert(field.name().clone(), column);
        }
        Ok(StatsOutput {
            stats,
            rows: table.num_rows() as u64,
        })
    }
}

/// Running moments of a column, merged batch by batch (Chan et al.'s parallel variance).
#[derive(Default)]
struct Moments {
    count: u64,
    mean: f64,
    m2: f64,
}

impl Moments {
    fn merge(&mut self, other: &Moments) {
        if other.count == 0 {
            return;
        }
        let count = self.count + other.count;
        let delta = other.mean - self.mean;
        self.mean += delta * other.count as f64 / count as f64;
        self.m2 +=
            other.m2 + delta * delta * (self.count as f64 * other.count as f64) / count as f64;
        self.count = count;
    }
}

/// One batch's moments, two passes over the values.
fn batch_moments<T: ArrowNumericType>(
    array: &PrimitiveArray<T>,
    to_f64: fn(T::Native) -> f64,
) -> Moments {
    let count = (array.len() - array.null_count()) as u64;
    if count == 0 {
        return Moments::default();
    }
    let (sum, mean, m2);
    if array.null_count() == 0 {
        let values = array.values();
        sum = values.iter().map(|&v| to_f64(v)).sum::<f64>();
        mean = sum / count as f64;
        m2 = values
            .iter()
            .map(|&v| (to_f64(v) - mean).powi(2))
            .sum::<f64>();
    } else {
        sum = array.iter().flatten().map(to_f64).sum::<f64>();
        mean = sum / count as f64;
        m2 = array
            .iter()
            .flatten()
            .map(|v| (to_f64(v) - mean).powi(2))
            .sum::<f64>();
    }
    Moments { count, mean, m2 }
}

/// A column's statistics over all batches.
fn describe<T: ArrowNumericType>(
    columns: &[&dyn Array],
    to_f64: fn(T::Native) -> f64,
    to_json: fn(T::Native) -> Json,
) -> Json {
    let mut moments = Moments::default();
    let mut null_count = 0;
    let mut min: Option<T::Native> = None;
    let mut max: Option<T::Native> = None;
    for column in columns {
        let array = column.as_primitive::<T>();
        null_count += array.null_count() as u64;
        moments.merge(&batch_moments(array, to_f64));
        if let Some(low) = aggregate::min(array) {
            min = Some(min.map_or(low, |seen| {
                if to_f64(low) < to_f64(seen) {
                    low
                } else {
                    seen
                }
            }));
        }
        if let Some(high) = aggregate::max(array) {
            max = Some(max.map_or(high, |seen| {
                if to_f64(high) > to_f64(seen) {
                    high
                } else {
                    seen
                }
            }));
        }
    }
    let finite = |value: f64| serde_json::Number::from_f64(value).map_or(Json::Null, Json::Number);
    let mut out = Map::new();
    out.insert("count".to_owned(), moments.count.into());
    out.insert("null_count".to_owned(), null_count.into());
    out.insert("min".to_owned(), min.map_or(Json::Null, to_json));
    out.insert("max".to_owned(), max.map_or(Json::Null, to_json));
    out.insert(
        "mean".to_owned(),
        if moments.count == 0 {
            Json::Null
        } else {
            finite(moments.mean)
        },
    );
    out.insert(
        "stddev".to_owned(),
        if moments.count < 2 {
            Json::Null
        } else {
            finite((moments.m2 / (moments.count - 1) as f64).sqrt())
        },
    );
    Json::Object(out)
}
