//! The value types a node can put on a port: JSON (any serde type), raw bytes ([`Bytes`]), Arrow tables
//! ([`Table`]) and "whatever arrived" ([`Value`]).
//!
//! Ports are mapped with serde. Because serde has no notion of "bytes kept by reference" or "an Arrow table", the
//! three special types announce themselves with a private newtype-struct name; the port (de)serializers of this
//! crate recognise the name and move the value through a thread-local slot instead of encoding it. Any other
//! serializer (for example `serde_json`) sees an ordinary newtype and gets a sensible fallback encoding.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64_STANDARD;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, SerializeMap as _, Serializer};

use crate::stream::StreamSlot;

pub(crate) const BYTES_TOKEN: &str = "$conductor::private::Bytes";
pub(crate) const TABLE_TOKEN: &str = "$conductor::private::Table";
pub(crate) const VALUE_TOKEN: &str = "$conductor::private::Value";
pub(crate) const STREAM_TOKEN: &str = "$conductor::private::Stream";

/// The JSON Schema keyword that tells the host how a port's values are encoded on the wire.
pub const ENCODING_KEYWORD: &str = "x-conductor-encoding";

/// Raw bytes on a port (`Value.raw` on the wire), held by reference count so that passing them between steps or
/// into an event never copies them.
///
/// Inside a JSON value (a field of a struct on a JSON port, an element of a list) bytes are written
/// `{"$bytes": "<base64>"}`, the form of docs/protocol.md section 3.2, and read back from it. Deserializing a
/// [`Bytes`] from a JSON string gives the string's UTF-8 bytes, and from a list of numbers those bytes.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Bytes(pub bytes::Bytes);

impl Bytes {
    /// Wraps bytes that are already reference counted.
    pub fn new(bytes: bytes::Bytes) -> Self {
        Self(bytes)
    }

    /// Returns the underlying reference-counted buffer.
    pub fn into_inner(self) -> bytes::Bytes {
        self.0
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Bytes({} bytes)", self.0.len())
    }
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(value: Vec<u8>) -> Self {
        Self(value.into())
    }
}

impl From<&'static [u8]> for Bytes {
    fn from(value: &'static [u8]) -> Self {
        Self(bytes::Bytes::from_static(value))
    }
}

impl From<String> for Bytes {
    fn from(value: String) -> Self {
        Self(value.into())
    }
}

impl From<bytes::Bytes> for Bytes {
    fn from(value: bytes::Bytes) -> Self {
        Self(value)
    }
}

/// An Arrow table on a port (`Value.arrow` on the wire, the IPC stream format): a schema and its record batches.
///
/// Cloning is cheap (one reference count). A table that arrived over the wire keeps its encoding, so echoing it
/// costs no re-encoding.
#[derive(Clone)]
pub struct Table {
    inner: Arc<TableInner>,
}

struct TableInner {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    encoded: OnceLock<bytes::Bytes>,
}

impl Table {
    /// Makes a table from a schema and batches of that schema.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Self {
            inner: Arc::new(TableInner {
                schema,
                batches,
                encoded: OnceLock::new(),
            }),
        }
    }

    /// Makes a one-batch table.
    pub fn from_batch(batch: RecordBatch) -> Self {
        Self::new(batch.schema(), vec![batch])
    }

    pub(crate) fn with_encoding(
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
        encoded: bytes::Bytes,
    ) -> Self {
        let table = Self::new(schema, batches);
        let _ = table.inner.encoded.set(encoded);
        table
    }

    pub(crate) fn cached_encoding(&self) -> &OnceLock<bytes::Bytes> {
        &self.inner.encoded
    }

    /// The table's schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.inner.schema
    }

    /// The table's record batches, in order.
    pub fn batches(&self) -> &[RecordBatch] {
        &self.inner.batches
    }

    /// The number of rows over all batches.
    pub fn num_rows(&self) -> usize {
        self.inner.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("schema", &self.inner.schema)
            .field("rows", &self.num_rows())
            .field("batches", &self.inner.batches.len())
            .finish()
    }
}

impl From<RecordBatch> for Table {
    fn from(batch: RecordBatch) -> Self {
        Self::from_batch(batch)
    }
}

/// A port value of any encoding, for nodes that pass values along without looking (such as an echo).
#[derive(Debug, Clone)]
pub enum Value {
    /// A JSON value.
    Json(serde_json::Value),
    /// Raw bytes.
    Bytes(Bytes),
    /// An Arrow table.
    Table(Table),
}

impl From<serde_json::Value> for Value {
    fn from(value: serde_json::Value) -> Self {
        Self::Json(value)
    }
}

/// A JSON port value inside the runtime: either still in its wire encoding or a tree a node produced.
#[derive(Debug, Clone)]
pub(crate) enum JsonRepr {
    Encoded(bytes::Bytes),
    Tree(Arc<serde_json::Value>),
}

/// One value on one port inside the runtime; never re-encoded between steps.
#[derive(Debug, Clone)]
pub(crate) enum PortValue {
    Json(JsonRepr),
    Raw(bytes::Bytes),
    Arrow(Table),
    /// A stream port's items, which never become one wire value.
    Stream(StreamSlot),
}

impl PortValue {
    pub(crate) fn json(value: serde_json::Value) -> Self {
        Self::Json(JsonRepr::Tree(Arc::new(value)))
    }

    /// A short description of what the value is, for error messages.
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Self::Json(_) => "a JSON value",
            Self::Raw(_) => "raw bytes",
            Self::Arrow(_) => "an Arrow table",
            Self::Stream(_) => "a stream of items",
        }
    }
}

thread_local! {
    /// Set while a port serializer asks a special type to hand itself over.
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    /// The value being handed over between a port (de)serializer and a special type.
    static SLOT: RefCell<Option<PortValue>> = const { RefCell::new(None) };
}

pub(crate) fn put_slot(value: PortValue) {
    SLOT.with(|slot| *slot.borrow_mut() = Some(value));
}

pub(crate) fn take_slot() -> Option<PortValue> {
    SLOT.with(|slot| slot.borrow_mut().take())
}

/// Runs `serialize` with capture mode on and returns what a special type put into the slot.
pub(crate) fn capture(serialize: impl FnOnce()) -> Option<PortValue> {
    CAPTURING.with(|c| c.set(true));
    serialize();
    CAPTURING.with(|c| c.set(false));
    take_slot()
}

pub(crate) fn capturing() -> bool {
    CAPTURING.with(|c| c.replace(false))
}

impl Serialize for Bytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(BYTES_TOKEN, &BytesFallback(&self.0))
    }
}

/// The reserved key of bytes inside a JSON value: `{"$bytes": "<base64>"}` (docs/protocol.md, section 3.2).
pub const BYTES_KEY: &str = "$bytes";

/// Hands the bytes over to a port serializer, or writes them as `{"$bytes": "<base64>"}` inside a JSON value.
struct BytesFallback<'a>(&'a bytes::Bytes);

impl Serialize for BytesFallback<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if capturing() {
            put_slot(PortValue::Raw(self.0.clone()));
            return serializer.serialize_unit();
        }
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(BYTES_KEY, &BASE64_STANDARD.encode(self.0))?;
        map.end()
    }
}

impl Serialize for Table {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct(TABLE_TOKEN, &TableFallback(self))
    }
}

struct TableFallback<'a>(&'a Table);

impl Serialize for TableFallback<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if capturing() {
            put_slot(PortValue::Arrow(self.0.clone()));
            return serializer.serialize_unit();
        }
        Err(serde::ser::Error::custom(
            "an Arrow table can only be a port value of its own, not part of a JSON value",
        ))
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Json(json) => {
                serializer.serialize_newtype_struct(VALUE_TOKEN, &JsonFallback(json))
            }
            Self::Bytes(bytes) => bytes.serialize(serializer),
            Self::Table(table) => table.serialize(serializer),
        }
    }
}

struct JsonFallback<'a>(&'a serde_json::Value);

impl Serialize for JsonFallback<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if capturing() {
            put_slot(PortValue::json(self.0.clone()));
            return serializer.serialize_unit();
        }
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Bytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(BYTES_TOKEN, BytesVisitor)
    }
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Bytes;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("raw bytes")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Bytes, D::Error> {
        match take_slot() {
            Some(PortValue::Raw(bytes)) => Ok(Bytes(bytes)),
            Some(other) => Err(de::Error::custom(format_args!(
                "expected raw bytes, found {}",
                other.describe()
            ))),
            None => d.deserialize_any(BytesVisitor),
        }
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
        Ok(Bytes(bytes::Bytes::copy_from_slice(v)))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
        Ok(Bytes(v.into()))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Bytes, E> {
        Ok(Bytes(bytes::Bytes::copy_from_slice(v.as_bytes())))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Bytes, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(byte) = seq.next_element::<u8>()? {
            out.push(byte);
        }
        Ok(Bytes(out.into()))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Bytes, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key != BYTES_KEY || found.is_some() {
                return Err(de::Error::custom(format_args!(
                    "expected bytes as {{\"{BYTES_KEY}\": \"<base64>\"}}, found an object with the key \"{key}\""
                )));
            }
            let text = map.next_value::<Cow<'de, str>>()?;
            found = Some(BASE64_STANDARD.decode(text.as_bytes()).map_err(|error| {
                de::Error::custom(format_args!(
                    "expected standard base64 in \"{BYTES_KEY}\", found {text:?} ({error})"
                ))
            })?);
        }
        found.map(|bytes| Bytes(bytes.into())).ok_or_else(|| {
            de::Error::custom(format_args!(
                "expected bytes as {{\"{BYTES_KEY}\": \"<base64>\"}}, found an empty object"
            ))
        })
    }
}

impl<'de> Deserialize<'de> for Table {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(TABLE_TOKEN, TableVisitor)
    }
}

struct TableVisitor;

impl<'de> Visitor<'de> for TableVisitor {
    type Value = Table;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an Arrow table")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, _d: D) -> Result<Table, D::Error> {
        match take_slot() {
            Some(PortValue::Arrow(table)) => Ok(table),
            Some(other) => Err(de::Error::custom(format_args!(
                "expected an Arrow table, found {}",
                other.describe()
            ))),
            None => Err(de::Error::custom(
                "an Arrow table can only be read from a port of its own",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(VALUE_TOKEN, ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match take_slot() {
            Some(PortValue::Raw(bytes)) => Ok(Value::Bytes(Bytes(bytes))),
            Some(PortValue::Arrow(table)) => Ok(Value::Table(table)),
            Some(PortValue::Json(JsonRepr::Tree(tree))) => {
                Ok(Value::Json(Arc::unwrap_or_clone(tree)))
            }
            Some(PortValue::Json(JsonRepr::Encoded(text))) => serde_json::from_slice(&text)
                .map(Value::Json)
                .map_err(de::Error::custom),
            Some(other @ PortValue::Stream(_)) => Err(de::Error::custom(format_args!(
                "expected one value, found {}; declare the port as a Stream",
                other.describe()
            ))),
            None => serde_json::Value::deserialize(d).map(Value::Json),
        }
    }
}

fn encoding_schema(encoding: &str) -> Schema {
    json_schema!({ ENCODING_KEYWORD: encoding })
}

impl JsonSchema for Bytes {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Bytes".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        encoding_schema("raw")
    }
}

impl JsonSchema for Table {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Table".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        encoding_schema("arrow")
    }
}

impl JsonSchema for Value {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        "Value".into()
    }

    fn json_schema(_generator: &mut SchemaGenerator) -> Schema {
        Schema::default()
    }
}
