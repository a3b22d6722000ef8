//! Reads a node's config from its wire value, with the dotted path of whatever does not fit.

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use crate::node::ConfigIssue;
use crate::pb;

/// Parses a config; an absent or empty config is read as `{}`.
pub(crate) fn parse_config<T: DeserializeOwned>(
    config: Option<&pb::Value>,
) -> Result<T, ConfigIssue> {
    let text: &[u8] = match config.and_then(|value| value.kind.as_ref()) {
        None => b"{}",
        Some(pb::value::Kind::Json(text)) if text.trim_ascii().is_empty() => b"{}",
        Some(pb::value::Kind::Json(text)) => text,
        Some(_) => {
            return Err(ConfigIssue {
                message: "a config must be a JSON value".to_owned(),
                expected: "JSON".to_owned(),
                found: "another encoding".to_owned(),
                ..ConfigIssue::default()
            });
        }
    };
    let mut json = serde_json::Deserializer::from_slice(text);
    let value: T = serde_path_to_error::deserialize(&mut json).map_err(issue_from)?;
    json.end()
        .map_err(|error| issue_from_message(String::new(), error.to_string()))?;
    Ok(value)
}

/// The keys of a config that its (strict) schema does not declare, one issue each, naming the declared key a
/// misspelt one most likely meant. Nothing when the schema is not strict (`additionalProperties` not false) or the
/// config is not an object.
pub(crate) fn unknown_keys(config: Option<&pb::Value>, schema_text: &str) -> Vec<ConfigIssue> {
    let Ok(serde_json::Value::Object(schema)) =
        serde_json::from_str::<serde_json::Value>(schema_text)
    else {
        return Vec::new();
    };
    if schema.get("additionalProperties") != Some(&serde_json::Value::Bool(false)) {
        return Vec::new();
    }
    let declared: Vec<&str> = schema
        .get("properties")
        .and_then(serde_json::Value::as_object)
        .map(|properties| properties.keys().map(String::as_str).collect())
        .unwrap_or_default();
    let Some(pb::value::Kind::Json(text)) = config.and_then(|value| value.kind.as_ref()) else {
        return Vec::new();
    };
    let Ok(serde_json::Value::Object(given)) = serde_json::from_slice::<serde_json::Value>(text)
    else {
        return Vec::new();
    };
    given
        .keys()
        .filter(|key| !declared.contains(&key.as_str()))
        .map(|key| {
            let hint = match closest(key, &declared) {
                Some(best) => format!("; did you mean \"{best}\"?"),
                None if declared.is_empty() => "; this node takes no config here".to_owned(),
                None => format!("; expected one of {}", declared.join(", ")),
            };
            ConfigIssue {
                path: key.clone(),
                message: format!("unknown field \"{key}\"{hint}"),
                expected: declared.join(", "),
                found: key.clone(),
                warning: false,
            }
        })
        .collect()
}

/// The declared key closest to `key` by edit distance, when it is close enough to be what was meant.
fn closest<'a>(key: &str, declared: &[&'a str]) -> Option<&'a str> {
    let key_lower = key.to_lowercase();
    let (best, distance) = declared
        .iter()
        .map(|candidate| {
            (
                *candidate,
                edit_distance(&key_lower, &candidate.to_lowercase()),
            )
        })
        .min_by_key(|(_, distance)| *distance)?;
    let limit = (key.chars().count() / 3).max(2);
    (distance <= limit || best.contains(key) || key.contains(best)).then_some(best)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn issue_from(error: serde_path_to_error::Error<serde_json::Error>) -> ConfigIssue {
    let path = error
        .path()
        .iter()
        .map(|segment| match segment {
            Segment::Seq { index } => index.to_string(),
            Segment::Map { key } => key.clone(),
            Segment::Enum { variant } => variant.clone(),
            Segment::Unknown => "?".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(".");
    issue_from_message(path, error.into_inner().to_string())
}

/// Turns serde's message into a diagnostic, moving a field named in the message into the path and splitting
/// "invalid type: X, expected Y" into found and expected.
fn issue_from_message(mut path: String, mut message: String) -> ConfigIssue {
    if let Some(at) = message.find(" at line ") {
        message.truncate(at);
    }
    let mut expected = String::new();
    let mut found = String::new();
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some(end) = rest.find('`')
        {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&rest[..end]);
            if prefix.starts_with("missing") {
                found = "nothing".to_owned();
            } else if let Some(list) = rest[end..].strip_prefix("`, expected ") {
                expected = list.to_owned();
            }
        }
    }
    for prefix in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some(split) = rest.rfind(", expected ")
        {
            found = rest[..split].to_owned();
            expected = rest[split + ", expected ".len()..].to_owned();
        }
    }
    ConfigIssue {
        path,
        message,
        expected,
        found,
        warning: false,
    }
}

impl ConfigIssue {
    pub(crate) fn diagnostic(&self) -> pb::Diagnostic {
        pb::Diagnostic {
            severity: if self.warning {
                pb::diagnostic::Severity::Warning
            } else {
                pb::diagnostic::Severity::Error
            } as i32,
            message: self.message.clone(),
            path: self.path.clone(),
            expected: self.expected.clone(),
            found: self.found.clone(),
        }
    }

    /// The issue as one line naming the field, for a `config.invalid` failure.
    pub(crate) fn describe(&self) -> String {
        if self.path.is_empty() {
            format!("config: {}", self.message)
        } else {
            format!("config field \"{}\": {}", self.path, self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_of_a_strict_config_name_the_key_meant() {
        let schema = r#"{"type":"object","properties":{"method":{},"min_amount":{}},"additionalProperties":false}"#;
        let issues = unknown_keys(Some(&json(r#"{"methd":"GET","min_amount":1}"#)), schema);
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].path, "methd");
        assert_eq!(
            issues[0].message,
            "unknown field \"methd\"; did you mean \"method\"?"
        );
    }

    #[test]
    fn unknown_keys_are_allowed_when_the_schema_is_not_strict() {
        let schema = r#"{"type":"object","properties":{"method":{}}}"#;
        assert!(unknown_keys(Some(&json(r#"{"other":1}"#)), schema).is_empty());
    }
    use serde::Deserialize;

    #[allow(dead_code)]
    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Config {
        pattern: String,
        #[serde(default)]
        headers: Headers,
        #[serde(default)]
        items: Vec<u32>,
    }

    #[allow(dead_code)]
    #[derive(Debug, Default, Deserialize)]
    struct Headers {
        accept: Option<String>,
    }

    fn json(text: &str) -> pb::Value {
        pb::Value {
            kind: Some(pb::value::Kind::Json(text.as_bytes().to_vec().into())),
        }
    }

    #[test]
    fn a_missing_field_is_reported_at_its_own_path() {
        let issue = parse_config::<Config>(Some(&json("{}"))).unwrap_err();
        assert_eq!(issue.path, "pattern");
        assert_eq!(issue.message, "missing field `pattern`");
    }

    #[test]
    fn a_wrong_type_deep_inside_is_reported_with_a_dotted_path() {
        let issue =
            parse_config::<Config>(Some(&json(r#"{"pattern":"a","headers":{"accept":1}}"#)))
                .unwrap_err();
        assert_eq!(issue.path, "headers.accept");
        assert_eq!(issue.found, "integer `1`");
        assert_eq!(issue.expected, "a string");
    }

    #[test]
    fn sequence_indices_become_path_segments() {
        let issue = parse_config::<Config>(Some(&json(r#"{"pattern":"a","items":[1,2,3,"x"]}"#)))
            .unwrap_err();
        assert_eq!(issue.path, "items.3");
    }

    #[test]
    fn an_absent_config_reads_as_an_empty_object() {
        let issue = parse_config::<Config>(None).unwrap_err();
        assert_eq!(issue.path, "pattern");
        assert!(parse_config::<crate::Empty>(None).is_ok());
    }
}
