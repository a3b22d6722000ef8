//! Serializes a node's typed output struct into one value per port.
//!
//! A field that is `None` produces no port value. [`crate::Bytes`], [`crate::Table`] and [`crate::Value`] fields are
//! moved as they are; every other field becomes an in-memory JSON tree that later steps read without parsing and
//! that is encoded once, when it leaves the process.

use serde::Serialize;
use serde::ser::{self, Impossible, Serializer};
use serde_json::value::Serializer as JsonSerializer;

use crate::port_de::Ports;
use crate::value::{BYTES_TOKEN, PortValue, STREAM_TOKEN, TABLE_TOKEN, VALUE_TOKEN, capture};

type Error = serde_json::Error;

/// Turns a node's output struct (or a map of port names to values) into its port values.
pub(crate) fn to_ports<T: Serialize + ?Sized>(output: &T) -> Result<Ports, Error> {
    output.serialize(PortsSerializer)
}

/// Turns one value (for example a chunk) into a port value; `None` when it serialized as nothing (`None`).
pub(crate) fn to_port_value<T: Serialize + ?Sized>(value: &T) -> Result<Option<PortValue>, Error> {
    value.serialize(PortValueSerializer)
}

fn not_a_struct(found: &str) -> Error {
    ser::Error::custom(format_args!(
        "a node's output must be a struct with one field per output port, found {found}"
    ))
}

struct PortsSerializer;

macro_rules! reject {
    ($($method:ident ( $($arg:ident : $ty:ty),* ) -> $ok:ty, $what:literal;)*) => {$(
        fn $method(self, $(_: $ty),*) -> Result<$ok, Error> {
            Err(not_a_struct($what))
        }
    )*};
}

impl Serializer for PortsSerializer {
    type Ok = Ports;
    type Error = Error;
    type SerializeSeq = Impossible<Ports, Error>;
    type SerializeTuple = Impossible<Ports, Error>;
    type SerializeTupleStruct = Impossible<Ports, Error>;
    type SerializeTupleVariant = Impossible<Ports, Error>;
    type SerializeMap = PortsMap;
    type SerializeStruct = PortsStruct;
    type SerializeStructVariant = Impossible<Ports, Error>;

    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<PortsStruct, Error> {
        Ok(PortsStruct(Vec::with_capacity(len)))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<PortsMap, Error> {
        Ok(PortsMap {
            ports: Vec::with_capacity(len.unwrap_or(0)),
            key: None,
        })
    }

    fn serialize_unit(self) -> Result<Ports, Error> {
        Ok(Vec::new())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Ports, Error> {
        Ok(Vec::new())
    }

    fn serialize_none(self) -> Result<Ports, Error> {
        Ok(Vec::new())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Ports, Error> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Ports, Error> {
        value.serialize(self)
    }

    reject! {
        serialize_bool(v: bool) -> Ports, "a boolean";
        serialize_i8(v: i8) -> Ports, "a number";
        serialize_i16(v: i16) -> Ports, "a number";
        serialize_i32(v: i32) -> Ports, "a number";
        serialize_i64(v: i64) -> Ports, "a number";
        serialize_u8(v: u8) -> Ports, "a number";
        serialize_u16(v: u16) -> Ports, "a number";
        serialize_u32(v: u32) -> Ports, "a number";
        serialize_u64(v: u64) -> Ports, "a number";
        serialize_f32(v: f32) -> Ports, "a number";
        serialize_f64(v: f64) -> Ports, "a number";
        serialize_char(v: char) -> Ports, "a string";
        serialize_str(v: &str) -> Ports, "a string";
        serialize_bytes(v: &[u8]) -> Ports, "bytes";
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str) -> Ports, "an enum";
        serialize_seq(len: Option<usize>) -> Self::SerializeSeq, "a sequence";
        serialize_tuple(len: usize) -> Self::SerializeTuple, "a tuple";
        serialize_tuple_struct(name: &'static str, len: usize) -> Self::SerializeTupleStruct, "a tuple struct";
        serialize_tuple_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> Self::SerializeTupleVariant, "an enum";
        serialize_struct_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> Self::SerializeStructVariant, "an enum";
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Ports, Error> {
        Err(not_a_struct("an enum"))
    }
}

pub(crate) struct PortsStruct(Ports);

impl ser::SerializeStruct for PortsStruct {
    type Ok = Ports;
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        if let Some(port_value) = value.serialize(PortValueSerializer)? {
            self.0.push((key.to_owned(), port_value));
        }
        Ok(())
    }

    fn end(self) -> Result<Ports, Error> {
        Ok(self.0)
    }
}

pub(crate) struct PortsMap {
    ports: Ports,
    key: Option<String>,
}

impl ser::SerializeMap for PortsMap {
    type Ok = Ports;
    type Error = Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        match key.serialize(JsonSerializer)? {
            serde_json::Value::String(key) => {
                self.key = Some(key);
                Ok(())
            }
            _ => Err(ser::Error::custom("output port names must be strings")),
        }
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        let key = self
            .key
            .take()
            .ok_or_else(|| <Error as ser::Error>::custom("a map value came before its key"))?;
        if let Some(port_value) = value.serialize(PortValueSerializer)? {
            self.ports.push((key, port_value));
        }
        Ok(())
    }

    fn end(self) -> Result<Ports, Error> {
        Ok(self.ports)
    }
}

/// Serializes one port's value.
struct PortValueSerializer;

type Json = serde_json::Value;

fn tree(value: Json) -> Option<PortValue> {
    Some(PortValue::json(value))
}

macro_rules! json_primitive {
    ($($method:ident ( $($arg:ident : $ty:ty),* );)*) => {$(
        fn $method(self, $($arg: $ty),*) -> Result<Option<PortValue>, Error> {
            JsonSerializer.$method($($arg),*).map(tree)
        }
    )*};
}

impl Serializer for PortValueSerializer {
    type Ok = Option<PortValue>;
    type Error = Error;
    type SerializeSeq = Tree<<JsonSerializer as Serializer>::SerializeSeq>;
    type SerializeTuple = Tree<<JsonSerializer as Serializer>::SerializeTuple>;
    type SerializeTupleStruct = Tree<<JsonSerializer as Serializer>::SerializeTupleStruct>;
    type SerializeTupleVariant = Tree<<JsonSerializer as Serializer>::SerializeTupleVariant>;
    type SerializeMap = Tree<<JsonSerializer as Serializer>::SerializeMap>;
    type SerializeStruct = Tree<<JsonSerializer as Serializer>::SerializeStruct>;
    type SerializeStructVariant = Tree<<JsonSerializer as Serializer>::SerializeStructVariant>;

    json_primitive! {
        serialize_bool(v: bool);
        serialize_i8(v: i8);
        serialize_i16(v: i16);
        serialize_i32(v: i32);
        serialize_i64(v: i64);
        serialize_i128(v: i128);
        serialize_u8(v: u8);
        serialize_u16(v: u16);
        serialize_u32(v: u32);
        serialize_u64(v: u64);
        serialize_u128(v: u128);
        serialize_f32(v: f32);
        serialize_f64(v: f64);
        serialize_char(v: char);
        serialize_str(v: &str);
        serialize_unit();
        serialize_unit_struct(name: &'static str);
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str);
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<Option<PortValue>, Error> {
        Ok(Some(PortValue::Raw(bytes::Bytes::copy_from_slice(v))))
    }

    fn serialize_none(self) -> Result<Option<PortValue>, Error> {
        Ok(None)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Option<PortValue>, Error> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Option<PortValue>, Error> {
        if name == BYTES_TOKEN || name == TABLE_TOKEN || name == VALUE_TOKEN || name == STREAM_TOKEN
        {
            let mut result = Ok(());
            let captured = capture(|| result = value.serialize(JsonSerializer).map(drop));
            result?;
            return match captured {
                Some(port_value) => Ok(Some(port_value)),
                None => Err(ser::Error::custom("a port value could not be captured")),
            };
        }
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Option<PortValue>, Error> {
        JsonSerializer
            .serialize_newtype_variant(name, index, variant, value)
            .map(tree)
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        JsonSerializer.serialize_seq(len).map(Tree)
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, Error> {
        JsonSerializer.serialize_tuple(len).map(Tree)
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        JsonSerializer.serialize_tuple_struct(name, len).map(Tree)
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        JsonSerializer
            .serialize_tuple_variant(name, index, variant, len)
            .map(Tree)
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, Error> {
        JsonSerializer.serialize_map(len).map(Tree)
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, Error> {
        JsonSerializer.serialize_struct(name, len).map(Tree)
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        JsonSerializer
            .serialize_struct_variant(name, index, variant, len)
            .map(Tree)
    }
}

/// A compound JSON value being built by `serde_json`, which becomes one JSON port value when it ends.
pub(crate) struct Tree<T>(T);

macro_rules! tree_compound {
    ($trait:ident, $method:ident $(, $key:ident)?) => {
        impl<T: ser::$trait<Ok = Json, Error = Error>> ser::$trait for Tree<T> {
            type Ok = Option<PortValue>;
            type Error = Error;

            fn $method<V: Serialize + ?Sized>(&mut self, $($key: &'static str,)? value: &V) -> Result<(), Error> {
                self.0.$method($($key,)? value)
            }

            fn end(self) -> Result<Option<PortValue>, Error> {
                self.0.end().map(tree)
            }
        }
    };
}

tree_compound!(SerializeSeq, serialize_element);
tree_compound!(SerializeTuple, serialize_element);
tree_compound!(SerializeTupleStruct, serialize_field);
tree_compound!(SerializeTupleVariant, serialize_field);
tree_compound!(SerializeStruct, serialize_field, key);
tree_compound!(SerializeStructVariant, serialize_field, key);

impl<T: ser::SerializeMap<Ok = Json, Error = Error>> ser::SerializeMap for Tree<T> {
    type Ok = Option<PortValue>;
    type Error = Error;

    fn serialize_key<K: Serialize + ?Sized>(&mut self, key: &K) -> Result<(), Error> {
        self.0.serialize_key(key)
    }

    fn serialize_value<V: Serialize + ?Sized>(&mut self, value: &V) -> Result<(), Error> {
        self.0.serialize_value(value)
    }

    fn end(self) -> Result<Option<PortValue>, Error> {
        self.0.end().map(tree)
    }
}
