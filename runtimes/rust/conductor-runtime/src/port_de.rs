//! Deserializes a node's typed input struct from the values on its ports, without re-encoding them.
//!
//! The struct's fields are the ports. A JSON value still in its wire encoding is parsed straight into the field's
//! type; a JSON tree produced by an earlier step is read in place; raw bytes and Arrow tables are moved through
//! the slot of [`crate::value`].

use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, UnitDeserializer};
use serde::de::{self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, Visitor};

use crate::value::{
    BYTES_TOKEN, JsonRepr, PortValue, STREAM_TOKEN, TABLE_TOKEN, VALUE_TOKEN, put_slot,
};

/// The values on a node's ports, in the order they arrived or were produced.
pub(crate) type Ports = Vec<(String, PortValue)>;

/// Why a port map did not fit a node's input struct.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PortError {
    /// The port the problem is on, when known.
    pub(crate) port: Option<String>,
    pub(crate) kind: PortErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PortErrorKind {
    /// A required port has no value.
    Missing,
    /// The value does not fit the port's type; the text says what was expected and found.
    Invalid(String),
}

impl PortError {
    fn at_port(mut self, port: &str) -> Self {
        if self.port.is_none() {
            self.port = Some(port.to_owned());
        }
        self
    }

    fn json(error: serde_json::Error) -> Self {
        let mut text = error.to_string();
        // Because a port's JSON is one value, a line and column add nothing a user can act on.
        if let Some(at) = text.find(" at line ") {
            text.truncate(at);
        }
        Self {
            port: None,
            kind: PortErrorKind::Invalid(text),
        }
    }
}

impl fmt::Display for PortError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.port, &self.kind) {
            (Some(port), PortErrorKind::Missing) => {
                write!(f, "input \"{port}\" is required but was not given")
            }
            (None, PortErrorKind::Missing) => f.write_str("a required input was not given"),
            (Some(port), PortErrorKind::Invalid(text)) => write!(f, "input \"{port}\": {text}"),
            (None, PortErrorKind::Invalid(text)) => f.write_str(text),
        }
    }
}

impl std::error::Error for PortError {}

impl de::Error for PortError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            port: None,
            kind: PortErrorKind::Invalid(msg.to_string()),
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Self {
            port: Some(field.to_owned()),
            kind: PortErrorKind::Missing,
        }
    }
}

/// Builds a node's input struct from its ports.
pub(crate) fn from_ports<T: DeserializeOwned>(ports: &Ports) -> Result<T, PortError> {
    T::deserialize(PortsDeserializer { ports })
}

/// Reads one port value (for example an item of a stream input) into a type.
pub(crate) fn from_port_value<T: DeserializeOwned>(value: &PortValue) -> Result<T, PortError> {
    T::deserialize(PortValueDeserializer { value })
}

struct PortsDeserializer<'a> {
    ports: &'a Ports,
}

impl<'de> Deserializer<'de> for PortsDeserializer<'de> {
    type Error = PortError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PortError> {
        visitor.visit_map(PortsAccess {
            ports: self.ports.iter(),
            current: None,
        })
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PortError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PortError> {
        visitor.visit_unit()
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, PortError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PortError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

struct PortsAccess<'a> {
    ports: std::slice::Iter<'a, (String, PortValue)>,
    current: Option<&'a (String, PortValue)>,
}

impl<'a> MapAccess<'a> for PortsAccess<'a> {
    type Error = PortError;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, PortError> {
        let Some(entry) = self.ports.next() else {
            return Ok(None);
        };
        self.current = Some(entry);
        seed.deserialize(BorrowedStrDeserializer::new(entry.0.as_str()))
            .map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, PortError> {
        let (name, value) = self
            .current
            .take()
            .ok_or_else(|| de::Error::custom("a port value was read before its name"))?;
        seed.deserialize(PortValueDeserializer { value })
            .map_err(|error| error.at_port(name))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.ports.len())
    }
}

/// Reads one port value into whatever type the port's field has.
struct PortValueDeserializer<'a> {
    value: &'a PortValue,
}

fn not_json(found: &PortValue) -> PortError {
    de::Error::custom(format_args!(
        "expected a JSON value, found {}",
        found.describe()
    ))
}

/// Whether JSON text may hold a number with a fraction or an exponent. Because serde_json keeps every number's
/// text (its `arbitrary_precision` feature, so that integers beyond 64 bits pass through exactly), its text parser
/// hands such a number to `deserialize_any` as a private map, which `#[serde(untagged)]` enums and `flatten`
/// cannot read; read through a `serde_json::Value` tree, the number is an `f64` to them as before. Text without
/// one (most ports: strings, integers, booleans) takes the direct parse.
fn may_hold_fraction(text: &[u8]) -> bool {
    text.iter().enumerate().any(|(i, byte)| match byte {
        b'.' => true,
        b'e' | b'E' => i > 0 && text[i - 1].is_ascii_digit(),
        _ => false,
    })
}

macro_rules! forward_port_value {
    ($($method:ident ( $($arg:ident : $ty:ty),* ))*) => {$(
        fn $method<V: Visitor<'a>>(self, $($arg: $ty,)* visitor: V) -> Result<V::Value, PortError> {
            match self.value {
                PortValue::Json(JsonRepr::Tree(tree)) => {
                    (&**tree).$method($($arg,)* visitor).map_err(PortError::json)
                }
                PortValue::Json(JsonRepr::Encoded(text)) if may_hold_fraction(text) => {
                    let tree: serde_json::Value =
                        serde_json::from_slice(text).map_err(PortError::json)?;
                    tree.$method($($arg,)* visitor).map_err(PortError::json)
                }
                PortValue::Json(JsonRepr::Encoded(text)) => {
                    let mut json = serde_json::Deserializer::from_slice(text);
                    let value = (&mut json).$method($($arg,)* visitor).map_err(PortError::json)?;
                    json.end().map_err(PortError::json)?;
                    Ok(value)
                }
                PortValue::Raw(bytes) => visitor.visit_bytes(bytes),
                other @ (PortValue::Arrow(_) | PortValue::Stream(_)) => Err(not_json(other)),
            }
        }
    )*};
}

impl<'a> Deserializer<'a> for PortValueDeserializer<'a> {
    type Error = PortError;

    fn deserialize_newtype_struct<V: Visitor<'a>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, PortError> {
        if name == BYTES_TOKEN || name == TABLE_TOKEN || name == VALUE_TOKEN || name == STREAM_TOKEN
        {
            let handed = if name == BYTES_TOKEN {
                text_as_bytes(self.value)?.unwrap_or_else(|| self.value.clone())
            } else {
                self.value.clone()
            };
            put_slot(handed);
            return visitor.visit_newtype_struct(UnitDeserializer::<PortError>::new());
        }
        match self.value {
            PortValue::Json(JsonRepr::Tree(tree)) => (&**tree)
                .deserialize_newtype_struct(name, visitor)
                .map_err(PortError::json),
            PortValue::Json(JsonRepr::Encoded(text)) if may_hold_fraction(text) => {
                let tree: serde_json::Value =
                    serde_json::from_slice(text).map_err(PortError::json)?;
                tree.deserialize_newtype_struct(name, visitor)
                    .map_err(PortError::json)
            }
            PortValue::Json(JsonRepr::Encoded(text)) => {
                let mut json = serde_json::Deserializer::from_slice(text);
                let value = (&mut json)
                    .deserialize_newtype_struct(name, visitor)
                    .map_err(PortError::json)?;
                json.end().map_err(PortError::json)?;
                Ok(value)
            }
            PortValue::Raw(_) => visitor.visit_newtype_struct(self),
            other @ (PortValue::Arrow(_) | PortValue::Stream(_)) => Err(not_json(other)),
        }
    }

    forward_port_value! {
        deserialize_any()
        deserialize_bool() deserialize_i8() deserialize_i16() deserialize_i32() deserialize_i64()
        deserialize_i128() deserialize_u8() deserialize_u16() deserialize_u32() deserialize_u64()
        deserialize_u128() deserialize_f32() deserialize_f64() deserialize_char() deserialize_str()
        deserialize_string() deserialize_bytes() deserialize_byte_buf() deserialize_option()
        deserialize_unit() deserialize_seq() deserialize_map() deserialize_identifier()
        deserialize_ignored_any()
        deserialize_unit_struct(name: &'static str)
        deserialize_tuple(len: usize)
        deserialize_tuple_struct(name: &'static str, len: usize)
        deserialize_struct(name: &'static str, fields: &'static [&'static str])
        deserialize_enum(name: &'static str, variants: &'static [&'static str])
    }
}

/// A JSON string given to a raw-bytes port becomes its UTF-8 bytes.
fn text_as_bytes(value: &PortValue) -> Result<Option<PortValue>, PortError> {
    match value {
        PortValue::Json(JsonRepr::Tree(tree)) => Ok(tree
            .as_str()
            .map(|text| PortValue::Raw(bytes::Bytes::copy_from_slice(text.as_bytes())))),
        PortValue::Json(JsonRepr::Encoded(text))
            if text.trim_ascii_start().first() == Some(&b'"') =>
        {
            let text: String = serde_json::from_slice(text).map_err(PortError::json)?;
            Ok(Some(PortValue::Raw(text.into())))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port_ser::to_ports;
    use crate::value::Table;
    use crate::{Bytes, Value};
    use arrow_array::{Int64Array, RecordBatch};
    use serde::{Deserialize, Serialize};
    use std::sync::Arc;

    fn encoded(text: &str) -> PortValue {
        PortValue::Json(JsonRepr::Encoded(bytes::Bytes::copy_from_slice(
            text.as_bytes(),
        )))
    }

    fn table() -> Table {
        let ids = Int64Array::from(vec![1, 2, 3]);
        Table::from_batch(RecordBatch::try_from_iter([("id", Arc::new(ids) as _)]).unwrap())
    }

    #[derive(Debug, Deserialize, Serialize)]
    struct Mixed {
        count: i64,
        label: Option<String>,
        data: Bytes,
        table: Table,
        anything: Value,
    }

    #[test]
    fn every_kind_of_port_value_reads_into_its_field() {
        let ports: Ports = vec![
            ("count".into(), encoded("9007199254740993")),
            (
                "data".into(),
                PortValue::Raw(bytes::Bytes::from_static(b"\x00\xff")),
            ),
            ("table".into(), PortValue::Arrow(table())),
            (
                "anything".into(),
                PortValue::json(serde_json::json!({"a": [1]})),
            ),
        ];
        let mixed: Mixed = from_ports(&ports).unwrap();
        assert_eq!(mixed.count, 9_007_199_254_740_993);
        assert_eq!(mixed.label, None);
        assert_eq!(&*mixed.data, b"\x00\xff");
        assert_eq!(mixed.table.num_rows(), 3);
        assert!(matches!(mixed.anything, Value::Json(ref json) if json["a"][0] == 1));
    }

    #[test]
    fn outputs_become_port_values_without_encoding_bytes_or_tables() {
        let mixed = Mixed {
            count: 7,
            label: None,
            data: Bytes::from(vec![1, 2]),
            table: table(),
            anything: Value::Bytes(Bytes::from(vec![3])),
        };
        let ports = to_ports(&mixed).unwrap();
        let names: Vec<_> = ports.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["count", "data", "table", "anything"]);
        assert!(matches!(&ports[0].1, PortValue::Json(JsonRepr::Tree(tree)) if **tree == 7));
        assert!(matches!(&ports[1].1, PortValue::Raw(bytes) if bytes[..] == [1, 2]));
        assert!(matches!(&ports[2].1, PortValue::Arrow(table) if table.num_rows() == 3));
        assert!(matches!(&ports[3].1, PortValue::Raw(bytes) if bytes[..] == [3]));
        let back: Mixed = from_ports(&ports).unwrap();
        assert_eq!(back.count, 7);
    }

    #[derive(Debug, Deserialize, Serialize)]
    struct Big {
        id: u64,
        negative: i64,
        tree: serde_json::Value,
    }

    #[test]
    fn integers_beyond_2_pow_53_keep_every_digit_into_typed_fields_and_trees_and_back() {
        let ports: Ports = vec![
            ("id".into(), encoded("18446744073709551615")),
            ("negative".into(), encoded("-9007199254740995")),
            (
                "tree".into(),
                encoded(r#"{"a":[9007199254740993,-9223372036854775808]}"#),
            ),
        ];
        let big: Big = from_ports(&ports).unwrap();
        assert_eq!(big.id, u64::MAX);
        assert_eq!(big.negative, -9_007_199_254_740_995);
        let outputs = to_ports(&big).unwrap();
        let texts: Vec<String> = outputs
            .iter()
            .map(|(_, value)| match value {
                PortValue::Json(JsonRepr::Tree(tree)) => serde_json::to_string(&**tree).unwrap(),
                other => panic!("expected a JSON tree, found {other:?}"),
            })
            .collect();
        assert_eq!(
            texts,
            [
                "18446744073709551615",
                "-9007199254740995",
                r#"{"a":[9007199254740993,-9223372036854775808]}"#
            ]
        );
    }

    #[test]
    fn a_missing_required_port_names_the_port() {
        let error = from_ports::<Mixed>(&vec![]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "input \"count\" is required but was not given"
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_names_the_port_and_what_was_expected() {
        let ports: Ports = vec![("count".into(), encoded("\"seven\""))];
        let error = from_ports::<Mixed>(&ports).unwrap_err();
        assert_eq!(
            error.to_string(),
            "input \"count\": invalid type: string \"seven\", expected i64"
        );
    }

    #[test]
    fn a_table_where_json_is_expected_is_rejected_by_name() {
        let ports: Ports = vec![("count".into(), PortValue::Arrow(table()))];
        let error = from_ports::<Mixed>(&ports).unwrap_err();
        assert_eq!(
            error.to_string(),
            "input \"count\": expected a JSON value, found an Arrow table"
        );
    }

    #[test]
    fn a_json_string_on_a_bytes_port_gives_its_utf8_bytes() {
        #[derive(Deserialize)]
        struct Input {
            data: Bytes,
        }
        let ports: Ports = vec![("data".into(), encoded("\"héllo\""))];
        let input: Input = from_ports(&ports).unwrap();
        assert_eq!(&*input.data, "héllo".as_bytes());
    }

    #[test]
    fn bytes_inside_a_json_value_are_base64_under_the_bytes_key() {
        let json = serde_json::to_value(Bytes::from(vec![0, 1, 254, 255])).unwrap();
        assert_eq!(json, serde_json::json!({"$bytes": "AAH+/w=="}));
        let back: Bytes = serde_json::from_value(json).unwrap();
        assert_eq!(&*back, [0, 1, 254, 255]);
        // The older forms still read: a list of numbers.
        let back: Bytes = serde_json::from_value(serde_json::json!([1, 2])).unwrap();
        assert_eq!(&*back, [1, 2]);
    }

    #[test]
    fn a_bytes_field_of_a_json_port_goes_out_and_comes_in_as_the_bytes_form() {
        #[derive(Serialize, Deserialize)]
        struct File {
            name: String,
            data: Bytes,
            parts: Vec<Bytes>,
        }
        #[derive(Serialize, Deserialize)]
        struct Port {
            file: File,
        }
        let output = Port {
            file: File {
                name: "a".into(),
                data: Bytes::from(vec![0, 255]),
                parts: vec![Bytes::from(Vec::new()), Bytes::from(b"hi".to_vec())],
            },
        };
        let ports = crate::port_ser::to_ports(&output).unwrap();
        let PortValue::Json(JsonRepr::Tree(tree)) = &ports[0].1 else {
            panic!("expected a JSON tree");
        };
        let text = serde_json::to_string(&**tree).unwrap();
        assert_eq!(
            text,
            r#"{"name":"a","data":{"$bytes":"AP8="},"parts":[{"$bytes":""},{"$bytes":"aGk="}]}"#
        );
        // From the wire (text) and from an earlier step (a tree), the node gets the bytes back.
        for port_value in [encoded(&text), ports[0].1.clone()] {
            let input: Port = from_ports(&vec![("file".into(), port_value)]).unwrap();
            assert_eq!(&*input.file.data, [0, 255]);
            assert_eq!(&*input.file.parts[1], b"hi");
            assert!(input.file.parts[0].is_empty());
        }
    }

    #[test]
    fn a_bytes_form_that_is_not_base64_is_refused_by_name() {
        #[derive(Debug, Deserialize)]
        struct Input {
            #[allow(dead_code)]
            file: serde_json::Map<String, serde_json::Value>,
        }
        #[derive(Debug, Deserialize)]
        struct Typed {
            #[allow(dead_code)]
            data: Bytes,
        }
        let error = serde_json::from_str::<Typed>(r#"{"data":{"$bytes":"no!"}}"#).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("expected standard base64 in \"$bytes\""),
            "{error}"
        );
        let error = serde_json::from_str::<Typed>(r#"{"data":{"size":1}}"#).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("found an object with the key \"size\""),
            "{error}"
        );
        let _ = serde_json::from_str::<Input>(r#"{"file":{"$bytes":"AA=="}}"#).unwrap();
    }

    #[test]
    fn integers_beyond_64_bits_keep_every_digit_through_a_value_port() {
        let text = r#"{"a":18446744073709551616,"b":-9223372036854775809,"c":123456789012345678901234567890,"f":0.1}"#;
        #[derive(Serialize, Deserialize)]
        struct Port {
            value: crate::Value,
        }
        let input: Port = from_ports(&vec![("value".into(), encoded(text))]).unwrap();
        let ports = crate::port_ser::to_ports(&input).unwrap();
        let PortValue::Json(JsonRepr::Tree(tree)) = &ports[0].1 else {
            panic!("expected a JSON tree");
        };
        assert_eq!(serde_json::to_string(&**tree).unwrap(), text);
    }

    #[test]
    fn numbers_read_into_typed_fields_and_untagged_enums_as_before() {
        #[derive(Debug, PartialEq, Deserialize)]
        #[serde(untagged)]
        enum Amount {
            Whole(u64),
            Fraction(f64),
            Text(String),
        }
        #[derive(Debug, Deserialize)]
        struct Input {
            x: f64,
            n: u64,
            amounts: Vec<Amount>,
        }
        let input: Input = from_ports(&vec![
            ("x".into(), encoded("1.5")),
            ("n".into(), encoded("18446744073709551615")),
            ("amounts".into(), encoded(r#"[2, 2.5, "three"]"#)),
        ])
        .unwrap();
        assert_eq!(input.x, 1.5);
        assert_eq!(input.n, u64::MAX);
        assert_eq!(
            input.amounts,
            [
                Amount::Whole(2),
                Amount::Fraction(2.5),
                Amount::Text("three".into())
            ]
        );
    }
}
