//! `rs.hash`: the SHA-256 of raw bytes or of a string's UTF-8 bytes.

use conductor_runtime::{Context, Empty, Node, NodeError, NodeSpec, Value, async_trait};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Deserialize, JsonSchema)]
pub(crate) struct HashInput {
    /// Raw bytes, or a string whose UTF-8 bytes are hashed.
    #[schemars(schema_with = "bytes_or_string")]
    data: Value,
}

fn bytes_or_string(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "x-conductor-encoding": "raw" },
            { "type": "string" }
        ]
    })
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct HashOutput {
    /// Lowercase hex SHA-256.
    digest: String,
}

pub(crate) struct Sha256Node;

/// Bytes hashed per chunk between cooperative yields, so that a large input does not hold a worker thread for
/// long stretches.
const CHUNK: usize = 4 << 20;

#[async_trait]
impl Node for Sha256Node {
    type Config = Empty;
    type Input = HashInput;
    type Output = HashOutput;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("rs.hash", "1")
            .title("Hash bytes")
            .description(
                "The SHA-256 of raw bytes, or of a string's UTF-8 bytes, as lowercase hex.",
            )
            .idempotent()
            .deterministic()
    }

    async fn run(&self, _: &Context, _: Empty, input: HashInput) -> Result<HashOutput, NodeError> {
        let mut hasher = Sha256::new();
        match &input.data {
            Value::Bytes(bytes) => {
                for chunk in bytes.chunks(CHUNK) {
                    hasher.update(chunk);
                    if bytes.len() > CHUNK {
                        tokio::task::yield_now().await;
                    }
                }
            }
            Value::Json(serde_json::Value::String(text)) => hasher.update(text.as_bytes()),
            Value::Json(other) => {
                return Err(NodeError::permanent(format!(
                    "input \"data\": expected raw bytes or a string, found JSON {}",
                    json_kind(other)
                ))
                .with_type("input.invalid"));
            }
            Value::Table(_) => {
                return Err(NodeError::permanent(
                    "input \"data\": expected raw bytes or a string, found an Arrow table",
                )
                .with_type("input.invalid"));
            }
        }
        Ok(HashOutput {
            digest: hex(&hasher.finalize()),
        })
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
