//! `rs.add-one`: the cheapest possible node, for dispatch and chain benchmarks.

use conductor_runtime::{Context, Empty, Node, NodeError, NodeSpec, async_trait};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
pub(crate) struct AddOneInput {
    /// The number to increment.
    x: i64,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct AddOneOutput {
    /// `x + 1`.
    y: i64,
}

pub(crate) struct AddOne;

#[async_trait]
impl Node for AddOne {
    type Config = Empty;
    type Input = AddOneInput;
    type Output = AddOneOutput;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("rs.add-one", "1")
            .title("Add one")
            .description("Returns x + 1; a trivial node for measuring dispatch cost.")
            .idempotent()
            .deterministic()
    }

    async fn run(
        &self,
        _: &Context,
        _: Empty,
        input: AddOneInput,
    ) -> Result<AddOneOutput, NodeError> {
        let y = input.x.checked_add(1).ok_or_else(|| {
            NodeError::permanent(format!("{} + 1 overflows a 64-bit integer", input.x))
                .with_type("overflow")
        })?;
        Ok(AddOneOutput { y })
    }
}
