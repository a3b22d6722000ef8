//! Converts port values to and from the wire `Value`, including Arrow IPC and blobs for large values.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_ipc::writer::StreamWriter;
use sha2::{Digest, Sha256};

use crate::NodeError;
use crate::error::failures;
use crate::pb;
use crate::pb::blob_ref::Encoding;
use crate::value::{JsonRepr, PortValue, Table};

/// Encodes and decodes port values; owns the blob settings of this runtime.
#[derive(Debug)]
pub(crate) struct ValueCodec {
    blob_dir: Option<PathBuf>,
    inline_limit: usize,
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl ValueCodec {
    pub(crate) fn new(blob_dir: Option<PathBuf>, inline_limit: usize) -> Self {
        Self {
            blob_dir,
            inline_limit,
        }
    }

    /// Encodes a value for the wire; values larger than the inline limit are written as blobs.
    pub(crate) fn encode(&self, value: &PortValue) -> Result<pb::Value, NodeError> {
        let (bytes, encoding) = match value {
            PortValue::Json(JsonRepr::Encoded(text)) => (text.clone(), Encoding::Json),
            PortValue::Json(JsonRepr::Tree(tree)) => (
                serde_json::to_vec(&**tree)
                    .map_err(|error| {
                        failures::output_invalid(format!("cannot encode a JSON output: {error}"))
                    })?
                    .into(),
                Encoding::Json,
            ),
            PortValue::Raw(bytes) => (bytes.clone(), Encoding::Raw),
            PortValue::Arrow(table) => (encode_table(table)?, Encoding::Arrow),
            PortValue::Stream(_) => {
                return Err(failures::output_invalid(
                    "a stream of items cannot be sent as one value; declare the port as a Stream"
                        .to_owned(),
                ));
            }
        };
        if bytes.len() > self.inline_limit
            && let Some(dir) = &self.blob_dir
        {
            let blob = write_blob(dir, &bytes, encoding).map_err(|error| {
                // Because a full disk or a busy file system may clear, a blob that cannot be written is retryable.
                NodeError::transient(format!(
                    "cannot write a {} byte blob into {}: {error}",
                    bytes.len(),
                    dir.display()
                ))
                .with_type("blob.write")
            })?;
            return Ok(pb::Value {
                kind: Some(pb::value::Kind::Blob(blob)),
            });
        }
        let kind = match encoding {
            Encoding::Json => pb::value::Kind::Json(bytes),
            Encoding::Arrow => pb::value::Kind::Arrow(bytes),
            _ => pb::value::Kind::Raw(bytes),
        };
        Ok(pb::Value { kind: Some(kind) })
    }

    /// Decodes a wire value; `port` names it in error messages.
    pub(crate) fn decode(&self, value: pb::Value, port: &str) -> Result<PortValue, NodeError> {
        match value.kind {
            None => Ok(PortValue::Json(JsonRepr::Encoded(
                bytes::Bytes::from_static(b"null"),
            ))),
            Some(pb::value::Kind::Json(text)) => Ok(PortValue::Json(JsonRepr::Encoded(text))),
            Some(pb::value::Kind::Raw(bytes)) => Ok(PortValue::Raw(bytes)),
            Some(pb::value::Kind::Arrow(bytes)) => decode_table(bytes, port).map(PortValue::Arrow),
            Some(pb::value::Kind::Blob(blob)) => {
                let bytes = read_blob(&blob, port)?;
                match Encoding::try_from(blob.encoding).unwrap_or(Encoding::Unspecified) {
                    Encoding::Json => Ok(PortValue::Json(JsonRepr::Encoded(bytes))),
                    Encoding::Arrow => decode_table(bytes, port).map(PortValue::Arrow),
                    Encoding::Raw | Encoding::Unspecified => Ok(PortValue::Raw(bytes)),
                }
            }
        }
    }
}

fn encode_table(table: &Table) -> Result<bytes::Bytes, NodeError> {
    if let Some(encoded) = table.cached_encoding().get() {
        return Ok(encoded.clone());
    }
    let encode = || -> Result<Vec<u8>, arrow_schema::ArrowError> {
        let mut writer = StreamWriter::try_new(Vec::new(), table.schema())?;
        for batch in table.batches() {
            writer.write(batch)?;
        }
        writer.finish()?;
        writer.into_inner()
    };
    let encoded: bytes::Bytes = encode()
        .map_err(|error| {
            failures::output_invalid(format!("cannot encode an Arrow table: {error}"))
        })?
        .into();
    let _ = table.cached_encoding().set(encoded.clone());
    Ok(encoded)
}

fn decode_table(bytes: bytes::Bytes, port: &str) -> Result<Table, NodeError> {
    let invalid = |error: arrow_schema::ArrowError| {
        failures::input_invalid(format!(
            "input \"{port}\": not an Arrow IPC stream: {error}"
        ))
    };
    let mut decoder = StreamDecoder::new();
    // Because `Buffer` can share `bytes::Bytes`, the record batches point into the received message.
    let mut buffer = Buffer::from(bytes.clone());
    let mut batches = Vec::new();
    while !buffer.is_empty() {
        if let Some(batch) = decoder.decode(&mut buffer).map_err(invalid)? {
            batches.push(batch);
        }
    }
    decoder.finish().map_err(invalid)?;
    let schema = decoder.schema().ok_or_else(|| {
        failures::input_invalid(format!("input \"{port}\": an empty Arrow IPC stream"))
    })?;
    Ok(Table::with_encoding(schema, batches, bytes))
}

fn file_path(uri: &str) -> &Path {
    Path::new(uri.strip_prefix("file://").unwrap_or(uri))
}

fn read_blob(blob: &pb::BlobRef, port: &str) -> Result<bytes::Bytes, NodeError> {
    let path = file_path(&blob.uri);
    let bytes = std::fs::read(path).map_err(|error| {
        failures::blob_corrupt(format!(
            "input \"{port}\": cannot read blob {}: {error}",
            blob.uri
        ))
    })?;
    if bytes.len() as u64 != blob.size {
        return Err(failures::blob_corrupt(format!(
            "input \"{port}\": blob {} has {} bytes, expected {}",
            blob.uri,
            bytes.len(),
            blob.size
        )));
    }
    Ok(bytes.into())
}

fn write_blob(dir: &Path, bytes: &[u8], encoding: Encoding) -> std::io::Result<pb::BlobRef> {
    let digest = Sha256::digest(bytes);
    let sha256 = hex(&digest);
    let path = dir.join(&sha256);
    let already_there = std::fs::metadata(&path).is_ok_and(|meta| meta.len() == bytes.len() as u64);
    if !already_there {
        // Written under a temporary name and renamed, so that a reader never sees a partial blob.
        let temporary = dir.join(format!(
            ".{sha256}.{}.{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(bytes)?;
        drop(file);
        std::fs::rename(&temporary, &path)?;
    }
    let absolute = std::path::absolute(&path)?;
    Ok(pb::BlobRef {
        uri: format!("file://{}", absolute.display()),
        size: bytes.len() as u64,
        sha256,
        encoding: encoding as i32,
    })
}

/// Lowercase hex of some bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
    out
}
