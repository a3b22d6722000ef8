//! `rs.regex-extract`: every match of a regular expression in a text, with its named groups.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use conductor_runtime::{ConfigIssue, Context, Node, NodeError, NodeSpec, async_trait};
use regex::Regex;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

#[derive(Deserialize, JsonSchema)]
pub(crate) struct RegexConfig {
    /// A regular expression in the syntax of the Rust `regex` crate.
    pattern: String,
}

#[derive(Deserialize, JsonSchema)]
pub(crate) struct RegexInput {
    /// The text to search.
    text: String,
}

#[derive(Serialize, JsonSchema)]
pub(crate) struct RegexOutput {
    /// The text of every match, in order.
    matches: Vec<String>,
    /// For every match, its named groups (`null` for a group that did not take part).
    groups: Vec<Map<String, Json>>,
}

/// Compiled patterns kept between runs, because compiling costs far more than matching a short text.
#[derive(Default)]
pub(crate) struct RegexExtract {
    cache: Mutex<HashMap<String, Arc<Regex>>>,
}

/// Most patterns kept compiled; the cache starts over when it is full.
const CACHE_SIZE: usize = 64;

impl RegexExtract {
    fn compiled(&self, pattern: &str) -> Result<Arc<Regex>, regex::Error> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(regex) = cache.get(pattern) {
            return Ok(regex.clone());
        }
        let regex = Arc::new(Regex::new(pattern)?);
        if cache.len() >= CACHE_SIZE {
            cache.clear();
        }
        cache.insert(pattern.to_owned(), regex.clone());
        Ok(regex)
    }
}

#[async_trait]
impl Node for RegexExtract {
    type Config = RegexConfig;
    type Input = RegexInput;
    type Output = RegexOutput;

    fn spec(&self) -> NodeSpec {
        NodeSpec::new("rs.regex-extract", "1")
            .title("Extract regex matches")
            .description("Every match of `pattern` in `text`, with the named groups of each match.")
            .idempotent()
            .deterministic()
    }

    fn validate(&self, config: &RegexConfig) -> Vec<ConfigIssue> {
        match Regex::new(&config.pattern) {
            Ok(_) => Vec::new(),
            Err(error) => vec![ConfigIssue {
                expected: "a regular expression".to_owned(),
                found: config.pattern.clone(),
                ..ConfigIssue::error("pattern", format!("invalid regular expression: {error}"))
            }],
        }
    }

    async fn run(
        &self,
        ctx: &Context,
        config: RegexConfig,
        input: RegexInput,
    ) -> Result<RegexOutput, NodeError> {
        let regex = self.compiled(&config.pattern).map_err(|error| {
            NodeError::permanent(format!(
                "node \"{}\" (rs.regex-extract): config field \"pattern\": invalid regular expression: {error}",
                ctx.node_id()
            ))
            .with_type("config.invalid")
        })?;
        let names: Vec<&str> = regex.capture_names().flatten().collect();
        let mut matches = Vec::new();
        let mut groups = Vec::new();
        if names.is_empty() {
            matches.extend(
                regex
                    .find_iter(&input.text)
                    .map(|found| found.as_str().to_owned()),
            );
            groups.resize_with(matches.len(), Map::new);
        } else {
            for captures in regex.captures_iter(&input.text) {
                matches.push(
                    captures
                        .get(0)
                        .map_or("", |found| found.as_str())
                        .to_owned(),
                );
                let named = names
                    .iter()
                    .map(|&name| {
                        let value = captures
                            .name(name)
                            .map_or(Json::Null, |found| Json::from(found.as_str()));
                        (name.to_owned(), value)
                    })
                    .collect();
                groups.push(named);
            }
        }
        Ok(RegexOutput { matches, groups })
    }
}
