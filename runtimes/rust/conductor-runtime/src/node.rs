//! The authoring API: the [`Node`] trait and the [`NodeSpec`] that describes a node type.

use std::time::Duration;

use async_trait::async_trait;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Context, NodeError};

/// A node type served by this runtime.
///
/// The ports are the fields of [`Node::Input`] and [`Node::Output`]: one port per field, required unless the field
/// is an `Option` or has a serde default. A field can be any serde type (JSON on the wire), [`crate::Bytes`] (raw
/// bytes), [`crate::Table`] (an Arrow table) or [`crate::Value`] (whatever arrives). JSON Schemas for the config
/// and the ports are derived with `schemars`.
///
/// ```
/// use conductor_runtime::{async_trait, Bytes, Context, Empty, Node, NodeError, NodeSpec};
/// use schemars::JsonSchema;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Deserialize, JsonSchema)]
/// struct LengthInput {
///     /// The bytes to measure.
///     data: Bytes,
/// }
///
/// #[derive(Serialize, JsonSchema)]
/// struct LengthOutput {
///     length: u64,
/// }
///
/// struct Length;
///
/// #[async_trait]
/// impl Node for Length {
///     type Config = Empty;
///     type Input = LengthInput;
///     type Output = LengthOutput;
///
///     fn spec(&self) -> NodeSpec {
///         NodeSpec::new("rs.length", "1").title("Length of bytes").deterministic()
///     }
///
///     async fn run(&self, _ctx: &Context, _config: Empty, input: LengthInput) -> Result<LengthOutput, NodeError> {
///         Ok(LengthOutput { length: input.data.len() as u64 })
///     }
/// }
/// ```
#[async_trait]
pub trait Node: Send + Sync + 'static {
    /// The node's configuration, read from the blueprint.
    type Config: DeserializeOwned + JsonSchema + Send;
    /// The node's inputs, one field per input port.
    type Input: DeserializeOwned + JsonSchema + Send;
    /// The node's outputs, one field per output port.
    type Output: Serialize + JsonSchema + Send;

    /// Describes the node type: name, version, title and flags.
    fn spec(&self) -> NodeSpec;

    /// Checks a config beyond what its JSON Schema can say; called by `ValidateConfig` after the config parsed.
    fn validate(&self, _config: &Self::Config) -> Vec<ConfigIssue> {
        Vec::new()
    }

    /// Runs one step. Returning `Err` fails the step; a panic fails it with type `panic`.
    async fn run(
        &self,
        ctx: &Context,
        config: Self::Config,
        input: Self::Input,
    ) -> Result<Self::Output, NodeError>;
}

/// The name, version, description and flags of a node type.
#[derive(Debug, Clone, Default)]
pub struct NodeSpec {
    pub(crate) node_type: String,
    pub(crate) version: String,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) idempotent: bool,
    pub(crate) cancellable: bool,
    pub(crate) streaming: bool,
    pub(crate) deterministic: bool,
    pub(crate) default_timeout: Option<Duration>,
}

impl NodeSpec {
    /// A node type named `node_type` (by convention `<namespace>.<name>`) at `version`, which is part of the host's
    /// result cache keys: change it whenever the node's behaviour changes.
    pub fn new(node_type: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            node_type: node_type.into(),
            version: version.into(),
            ..Self::default()
        }
    }

    /// A short human title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// A longer description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Running twice has the same effect as running once (the host may retry after `runtime.lost`).
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
        self
    }

    /// The node reacts to [`Context::cancelled`] before it finishes.
    pub fn cancellable(mut self) -> Self {
        self.cancellable = true;
        self
    }

    /// The node emits chunks with [`Context::emit`].
    pub fn streaming(mut self) -> Self {
        self.streaming = true;
        self
    }

    /// The same config and inputs always give the same outputs (the host may cache results).
    pub fn deterministic(mut self) -> Self {
        self.deterministic = true;
        self
    }

    /// A default time budget for one attempt.
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = Some(timeout);
        self
    }

    /// The node type's name.
    pub fn node_type(&self) -> &str {
        &self.node_type
    }
}

/// A problem [`Node::validate`] found in a config, reported as a `Diagnostic`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted path inside the config, e.g. `headers.accept`; empty for the root.
    pub path: String,
    /// What is wrong, lowercase, naming the field.
    pub message: String,
    /// What was expected, when known.
    pub expected: String,
    /// What was found, when known.
    pub found: String,
    /// A warning does not stop the blueprint from running.
    pub warning: bool,
}

impl ConfigIssue {
    /// An error at `path`.
    pub fn error(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            ..Self::default()
        }
    }

    /// A warning at `path`.
    pub fn warning(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            warning: true,
            ..Self::error(path, message)
        }
    }
}

/// No config, no inputs or no outputs: an empty object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Empty {}
