//! `rs.crc32`: the CRC-32 (IEEE, as zlib and PNG compute it) of raw bytes, slicing by 8: the same algorithm as the
//! C++ WebAssembly example node `cpp.crc32` (examples/wasm), so the benchmark compares like with like.

use conductor_runtime::{Context, Empty, Node, NodeError, NodeSpec, Value, async_trait};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

#[derive(Deserialize, JsonSchema)]
pub(crate) struct Crc32Input {
    /// The bytes to check.
    #[schemars(schema_with = "raw_bytes")]
    data: Value,
}

fn raw_bytes(_: &mut SchemaGenerator) -> Schema {
    json_schema!({ "type": "string", "contentEncoding": "binary", "x-conductor-encoding": "raw" })
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct Crc32Output {
    /// The checksum, an unsigned 32-bit integer.
    crc32: u32,
    /// How many bytes were read.
    size: u64,
}

pub(crate) struct Crc32Node;

const fn tables() -> [[u32; 256]; 8] {
    let mut table = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (0u32.wrapping_sub(crc & 1)));
            bit += 1;
        }
        table[0][i] = crc;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut slice = 1;
        while slice < 8 {
            table[slice][i] =
                (table[slice - 1][i] >> 8) ^ table[0][(table[slice - 1][i] & 0xFF) as usize];
            slice += 1;
        }
        i += 1;
    }
    table
}

static TABLES: [[u32; 256]; 8] = tables();

fn crc32(data: &[u8]) -> u32 {
    let t = &TABLES;
    let mut crc = 0xFFFF_FFFFu32;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let low = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]) ^ crc;
        let high = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        crc = t[7][(low & 0xFF) as usize]
            ^ t[6][((low >> 8) & 0xFF) as usize]
            ^ t[5][((low >> 16) & 0xFF) as usize]
            ^ t[4][(low >> 24) as usize]
            ^ t[3][(high & 0xFF) as usize]
            ^ t[2][((high >> 8) & 0xFF) as usize]
            ^ t[1][((high >> 16) & 0xFF) as usize]
            ^ t[0][(high >> 24) as usize];
    }
    for byte in chunks.remainder() {
        crc = (crc >> 8) ^ t[0][((crc ^ u32::from(*byte)) & 0xFF) as usize];
    }
    crc ^ 0xFFFF_FFFF
}

#[async_trait]
impl Node for Crc32Node {
    type Config = Empty;
    type Input = Crc32Input;
    type Output = Crc32Output;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("rs.crc32", "1")
            .title("CRC-32")
            .description("The CRC-32 (IEEE, as zlib computes it) of raw bytes.")
            .idempotent()
            .deterministic()
    }

    async fn run(
        &self,
        _: &Context,
        _: Empty,
        input: Crc32Input,
    ) -> Result<Crc32Output, NodeError> {
        match &input.data {
            Value::Bytes(bytes) => Ok(Crc32Output {
                crc32: crc32(bytes),
                size: bytes.len() as u64,
            }),
            _ => Err(NodeError::permanent("input \"data\": expected raw bytes")
                .with_type("input.invalid")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::crc32;

    #[test]
    fn gives_the_check_value_of_the_ieee_polynomial() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
