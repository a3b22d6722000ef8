//! Write Conductor nodes in Rust and serve them to the Conductor host.
//!
//! A node is a type implementing [`Node`]: typed config, input and output structs (serde + `schemars`), and an
//! async `run`. A runtime binary registers its nodes in a [`Registry`] and hands it to [`serve`], which speaks the
//! runtime ABI of `docs/protocol.md` over a Unix socket: handshake, discovery with JSON Schemas, config
//! validation, the batched `Session` stream with multi-step invocations, cancellation, timeouts, blobs, drain and
//! shutdown.
//!
//! ```no_run
//! use conductor_runtime::{async_trait, Context, Empty, Node, NodeError, NodeSpec, Registry};
//! use schemars::JsonSchema;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Deserialize, JsonSchema)]
//! struct AddOneInput {
//!     x: i64,
//! }
//!
//! #[derive(Serialize, JsonSchema)]
//! struct AddOneOutput {
//!     y: i64,
//! }
//!
//! struct AddOne;
//!
//! #[async_trait]
//! impl Node for AddOne {
//!     type Config = Empty;
//!     type Input = AddOneInput;
//!     type Output = AddOneOutput;
//!
//!     fn spec(&self) -> NodeSpec {
//!         NodeSpec::new("rs.add-one", "1").title("Add one").deterministic().idempotent()
//!     }
//!
//!     async fn run(&self, _ctx: &Context, _config: Empty, input: AddOneInput) -> Result<AddOneOutput, NodeError> {
//!         Ok(AddOneOutput { y: input.x + 1 })
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), conductor_runtime::ServeError> {
//!     conductor_runtime::serve(Registry::new().node(AddOne)).await?;
//!     Ok(())
//! }
//! ```

mod config_check;
mod context;
mod error;
mod events;
mod host_env;
mod invocation;
mod log_layer;
mod node;
mod pb;
mod port_de;
mod port_ser;
mod registry;
mod schema;
mod serve;
mod service;
mod session;
mod state;
mod stream;
mod stream_input;
mod stream_output;
#[cfg(feature = "telemetry")]
mod telemetry;
mod value;
mod wire;

pub use context::{Context, StreamResume};
pub use error::{DEFAULT_FAILURE_TYPE, NodeError};
pub use log_layer::StepLogLayer;
pub use node::{ConfigIssue, Empty, Node, NodeSpec};
pub use registry::{DEFAULT_MAX_CONCURRENCY, Registry};
pub use serve::{ServeError, serve};
pub use stream::{Stream, Yield};
pub use value::{BYTES_KEY, Bytes, ENCODING_KEYWORD, Table, Value};

/// Re-exported so that node crates implement [`Node`] without depending on `async-trait` themselves.
pub use async_trait::async_trait;
/// Re-exported so that nodes can select on [`Context::cancelled`] without naming the crate.
pub use tokio_util::sync::CancellationToken;
