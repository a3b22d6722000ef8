//! [`Registry`]: the node types a runtime serves, each behind a type-erased adapter.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::config_check::{parse_config, unknown_keys};
use crate::error::failures;
use crate::node::{ConfigIssue, Node};
use crate::pb;
use crate::port_de::{Ports, from_ports};
use crate::port_ser::to_ports;
use crate::schema;
use crate::{Context, NodeError};

/// The most invocations a runtime runs at once unless [`Registry::max_concurrency`] says otherwise.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 256;

/// The node types a runtime serves, plus its limits; hand it to [`crate::serve`].
///
/// ```no_run
/// # use conductor_runtime::Registry;
/// # struct Sha256Node;
/// #[tokio::main]
/// async fn main() -> Result<(), conductor_runtime::ServeError> {
///     let registry = Registry::new().version(env!("CARGO_PKG_VERSION"));
///     // let registry = registry.node(Sha256Node);
///     conductor_runtime::serve(registry).await?;
///     Ok(())
/// }
/// ```
pub struct Registry {
    pub(crate) nodes: Vec<Arc<dyn ErasedNode>>,
    pub(crate) index: HashMap<String, usize>,
    pub(crate) max_concurrency: u32,
    pub(crate) version: String,
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("node_types", &self.index.keys().collect::<Vec<_>>())
            .field("max_concurrency", &self.max_concurrency)
            .field("version", &self.version)
            .finish()
    }
}

impl Registry {
    /// An empty registry with the default limits.
    pub fn new() -> Self {
        Self {
            nodes: Vec::new(),
            index: HashMap::new(),
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// Adds a node type.
    ///
    /// # Panics
    ///
    /// When a node type of the same name is already registered, because the host could not tell them apart.
    pub fn node<N: Node>(mut self, node: N) -> Self {
        let adapter = NodeAdapter::new(node);
        let name = adapter.info.node_type.r#type.clone();
        assert!(
            !self.index.contains_key(&name),
            "node type \"{name}\" is registered twice"
        );
        self.index.insert(name, self.nodes.len());
        self.nodes.push(Arc::new(adapter));
        self
    }

    /// How many invocations run at once (default 256); the host queues the rest. The environment variable
    /// `CONDUCTOR_MAX_CONCURRENCY`, when set, overrides it.
    pub fn max_concurrency(mut self, max_concurrency: u32) -> Self {
        self.max_concurrency = max_concurrency.max(1);
        self
    }

    /// The version reported in the handshake line and `RuntimeInfo` (default: this crate's version).
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    pub(crate) fn get(&self, node_type: &str) -> Option<&Arc<dyn ErasedNode>> {
        self.index.get(node_type).map(|&at| &self.nodes[at])
    }
}

/// What the runtime knows about a node type without knowing its Rust types.
#[derive(Debug)]
pub(crate) struct NodeInfo {
    pub(crate) node_type: pb::NodeType,
}

impl NodeInfo {
    pub(crate) fn has_output(&self, port: &str) -> bool {
        self.node_type
            .outputs
            .iter()
            .any(|output| output.name == port)
    }

    pub(crate) fn is_stream_output(&self, port: &str) -> bool {
        self.node_type
            .outputs
            .iter()
            .any(|output| output.name == port && output.stream)
    }

    pub(crate) fn output_names(&self) -> String {
        let names: Vec<&str> = self
            .node_type
            .outputs
            .iter()
            .map(|output| output.name.as_str())
            .collect();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    }
}

/// A node with its Rust types erased, so that the registry can hold different nodes side by side.
pub(crate) trait ErasedNode: Send + Sync {
    fn info(&self) -> &NodeInfo;

    fn validate_config(&self, config: Option<&pb::Value>) -> Vec<ConfigIssue>;

    fn run<'a>(
        &'a self,
        ctx: &'a Context,
        config: Option<&'a pb::Value>,
        inputs: &'a Ports,
    ) -> BoxFuture<'a, Result<Ports, NodeError>>;
}

struct NodeAdapter<N> {
    node: N,
    info: NodeInfo,
}

impl<N: Node> NodeAdapter<N> {
    fn new(node: N) -> Self {
        let spec = node.spec();
        let node_type = pb::NodeType {
            r#type: spec.node_type,
            version: spec.version,
            title: spec.title,
            description: spec.description,
            config_schema: schema::config_schema::<N::Config>(),
            inputs: schema::input_ports::<N::Input>(),
            outputs: schema::output_ports::<N::Output>(),
            flags: Some(pb::NodeFlags {
                idempotent: spec.idempotent,
                cancellable: spec.cancellable,
                streaming: spec.streaming,
                deterministic: spec.deterministic,
            }),
            default_timeout_ms: spec.default_timeout.map_or(0, |timeout| {
                u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX)
            }),
        };
        Self {
            node,
            info: NodeInfo { node_type },
        }
    }

    fn who(&self, ctx: &Context) -> String {
        format!(
            "node \"{}\" ({})",
            ctx.node_id(),
            self.info.node_type.r#type
        )
    }
}

impl<N: Node> ErasedNode for NodeAdapter<N> {
    fn info(&self) -> &NodeInfo {
        &self.info
    }

    fn validate_config(&self, config: Option<&pb::Value>) -> Vec<ConfigIssue> {
        let unknown = unknown_keys(config, &self.info.node_type.config_schema);
        if !unknown.is_empty() {
            return unknown;
        }
        match parse_config::<N::Config>(config) {
            Ok(config) => self.node.validate(&config),
            Err(issue) => vec![issue],
        }
    }

    fn run<'a>(
        &'a self,
        ctx: &'a Context,
        config: Option<&'a pb::Value>,
        inputs: &'a Ports,
    ) -> BoxFuture<'a, Result<Ports, NodeError>> {
        Box::pin(async move {
            if let Some(issue) = unknown_keys(config, &self.info.node_type.config_schema).first() {
                return Err(failures::config_invalid(format!(
                    "{}: {}",
                    self.who(ctx),
                    issue.describe()
                )));
            }
            let config = parse_config::<N::Config>(config).map_err(|issue| {
                failures::config_invalid(format!("{}: {}", self.who(ctx), issue.describe()))
            })?;
            let input = from_ports::<N::Input>(inputs)
                .map_err(|error| failures::input_invalid(format!("{}: {error}", self.who(ctx))))?;
            let output = self.node.run(ctx, config, input).await?;
            to_ports(&output).map_err(|error| {
                failures::output_invalid(format!("{}: bad output: {error}", self.who(ctx)))
            })
        })
    }
}
