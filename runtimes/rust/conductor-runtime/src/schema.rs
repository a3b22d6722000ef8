//! JSON Schemas (2020-12) for a node's config and ports, derived with `schemars`.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value as Json};

use crate::pb;
use crate::stream::STREAM_KEYWORD;

fn settings() -> SchemaSettings {
    // Because the host checks one port at a time, every port schema must stand alone: no `$ref` into a shared
    // `$defs`.
    SchemaSettings::draft2020_12().with(|settings| settings.inline_subschemas = true)
}

/// The JSON Schema of a config type, as JSON text. A config struct is strict: because a misspelt key (`methd` for
/// `method`) that serde skips leaves the node running on its default, the schema says `additionalProperties:
/// false` and unknown keys are refused (config_check::unknown_keys), unless the struct says otherwise itself
/// (`#[schemars(extend("additionalProperties" = true))]`, or a `#[serde(flatten)]` map, which schemars reports).
pub(crate) fn config_schema<T: JsonSchema>() -> String {
    let schema = settings()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut value = schema.to_value();
    if let Json::Object(root) = &mut value
        && root.get("type").and_then(Json::as_str) == Some("object")
        && root.contains_key("properties")
        && !root.contains_key("additionalProperties")
    {
        root.insert("additionalProperties".to_owned(), Json::Bool(false));
    }
    serde_json::to_string(&value).unwrap_or_else(|_| "{}".to_owned())
}

/// The input ports of an input struct: one per field.
pub(crate) fn input_ports<T: JsonSchema>() -> Vec<pb::Port> {
    let schema = settings()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>();
    ports_of(schema)
}

/// The output ports of an output struct: one per field.
pub(crate) fn output_ports<T: JsonSchema>() -> Vec<pb::Port> {
    let schema = settings()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>();
    ports_of(schema)
}

fn ports_of(schema: Schema) -> Vec<pb::Port> {
    let Json::Object(mut root) = schema.to_value() else {
        return Vec::new();
    };
    let required: Vec<String> = match root.remove("required") {
        Some(Json::Array(names)) => names
            .into_iter()
            .filter_map(|name| name.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    let Some(Json::Object(properties)) = root.remove("properties") else {
        return Vec::new();
    };
    properties
        .into_iter()
        .map(|(name, schema)| {
            let is_required = required.contains(&name);
            let mut schema = match schema {
                Json::Object(object) => object,
                Json::Bool(true) => Map::new(),
                other => {
                    let mut object = Map::new();
                    object.insert("not".to_owned(), Json::Bool(other == Json::Bool(false)));
                    object
                }
            };
            if !is_required {
                strip_null(&mut schema);
            }
            // A `Stream<T>` field: its schema is the item's, and the port is flagged instead.
            let stream = schema.remove(STREAM_KEYWORD) == Some(Json::Bool(true));
            let description = schema
                .get("description")
                .and_then(Json::as_str)
                .unwrap_or_default()
                .to_owned();
            pb::Port {
                name,
                schema: serde_json::to_string(&schema).unwrap_or_else(|_| "{}".to_owned()),
                required: is_required,
                description,
                stream,
            }
        })
        .collect()
}

/// An optional port is expressed by `required: false`, so its schema describes only the values it carries; this
/// keeps markers such as `x-conductor-encoding` at the top of the port's schema.
fn strip_null(schema: &mut Map<String, Json>) {
    let is_null = |value: &Json| value.get("type").and_then(Json::as_str) == Some("null");
    if let Some(Json::Array(any_of)) = schema.get("anyOf")
        && any_of.len() == 2
        && let Some(position) = any_of.iter().position(is_null)
        && let Json::Object(inner) = &any_of[1 - position]
    {
        let mut inner = inner.clone();
        for (key, value) in schema.iter() {
            if key != "anyOf" {
                inner.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        *schema = inner;
        return;
    }
    if let Some(Json::Array(types)) = schema.get_mut("type") {
        types.retain(|kind| kind.as_str() != Some("null"));
        if types.len() == 1 {
            let only = types.remove(0);
            schema.insert("type".to_owned(), only);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Bytes, Table, Value};
    use schemars::JsonSchema;

    #[allow(dead_code)]
    #[derive(JsonSchema)]
    struct Ports {
        /// The bytes to hash.
        data: Bytes,
        table: Option<Table>,
        anything: Value,
        count: i64,
        label: Option<String>,
    }

    fn schema_of(port: &pb::Port) -> Json {
        serde_json::from_str(&port.schema).unwrap()
    }

    #[test]
    fn ports_follow_field_order_with_required_flags_and_descriptions() {
        let ports = input_ports::<Ports>();
        let names: Vec<_> = ports.iter().map(|port| port.name.as_str()).collect();
        assert_eq!(names, ["data", "table", "anything", "count", "label"]);
        let required: Vec<_> = ports.iter().map(|port| port.required).collect();
        assert_eq!(required, [true, false, true, true, false]);
        assert_eq!(ports[0].description, "The bytes to hash.");
    }

    #[test]
    fn bytes_and_table_ports_carry_the_encoding_marker() {
        let ports = input_ports::<Ports>();
        assert_eq!(schema_of(&ports[0])["x-conductor-encoding"], "raw");
        assert_eq!(schema_of(&ports[1])["x-conductor-encoding"], "arrow");
        assert_eq!(schema_of(&ports[2]), serde_json::json!({}));
    }

    #[test]
    fn optional_ports_drop_the_null_alternative() {
        let ports = input_ports::<Ports>();
        assert_eq!(schema_of(&ports[3])["type"], "integer");
        assert_eq!(schema_of(&ports[4])["type"], "string");
    }

    #[test]
    fn config_schemas_declare_the_2020_12_draft() {
        let schema: Json = serde_json::from_str(&config_schema::<crate::Empty>()).unwrap();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["type"], "object");
    }
}
