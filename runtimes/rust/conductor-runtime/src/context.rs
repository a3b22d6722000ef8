//! [`Context`]: what a running node knows about its step and how it talks to the host while it runs.

use std::sync::Arc;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::NodeError;
use crate::error::failures;
use crate::events::Outbox;
use crate::pb;
use crate::pb::event::Kind;
use crate::port_ser::to_port_value;
use crate::value::{JsonRepr, PortValue};
use crate::wire::ValueCodec;

/// The step a node is running: identity, cancellation and the event channel back to the host.
///
/// Log with `tracing` (`tracing::info!(n = 1, "hello")`): events inside a node become `Log` events of its step,
/// with the event's fields as JSON. Events from tasks the node spawns itself go to stderr instead, because they
/// run outside the step.
#[derive(Debug, Clone)]
pub struct Context {
    pub(crate) step: Arc<StepScope>,
}

#[derive(Debug)]
pub(crate) struct StepScope {
    pub(crate) invocation_id: u64,
    pub(crate) index: u32,
    pub(crate) node_id: String,
    pub(crate) node_type: String,
    pub(crate) execution_id: Arc<str>,
    pub(crate) attempt: u32,
    pub(crate) token: CancellationToken,
    pub(crate) outbox: Arc<Outbox>,
    pub(crate) codec: Arc<ValueCodec>,
    /// Where each stream output resumes, for a retry of a producer after a checkpoint (`Step.resume`).
    pub(crate) resume: Vec<pb::StreamResume>,
}

/// Where a retried producer resumes one of its stream outputs: [`Context::resume`].
#[derive(Debug, Clone, PartialEq)]
pub struct StreamResume {
    /// How many items came before the checkpoint: the retry gives the items from this one on.
    pub offset: u64,
    /// The state the producer gave with the checkpoint ([`crate::Yield::Checkpoint`]).
    pub state: serde_json::Value,
}

impl StepScope {
    pub(crate) fn send(&self, kind: Kind) {
        self.outbox.push(self.index, kind);
    }
}

impl Context {
    /// The node's id in the blueprint, e.g. `stats`.
    pub fn node_id(&self) -> &str {
        &self.step.node_id
    }

    /// The node type being run, e.g. `rs.stats`.
    pub fn node_type(&self) -> &str {
        &self.step.node_type
    }

    /// The id of the execution this step belongs to.
    pub fn execution_id(&self) -> &str {
        &self.step.execution_id
    }

    /// The host-chosen id of the invocation this step is part of.
    pub fn invocation_id(&self) -> u64 {
        self.step.invocation_id
    }

    /// The attempt number, 1 for the first.
    pub fn attempt(&self) -> u32 {
        self.step.attempt
    }

    /// For a retry of a producer whose stream failed after a checkpoint ([`crate::Stream::with_checkpoints`]):
    /// where its stream output `port` resumes. `None` otherwise (the stream starts from its first item).
    pub fn resume(&self, port: &str) -> Option<StreamResume> {
        let entry = self.step.resume.iter().find(|entry| entry.port == port)?;
        let state = match entry.state.as_ref().and_then(|value| value.kind.as_ref()) {
            Some(pb::value::Kind::Json(text)) => {
                serde_json::from_slice(text).unwrap_or(serde_json::Value::Null)
            }
            _ => serde_json::Value::Null,
        };
        Some(StreamResume {
            offset: entry.offset,
            state,
        })
    }

    /// The token that fires when the host cancels the invocation, when the session closes and when the step's
    /// timeout passes. Select on `ctx.cancelled().cancelled()` in long waits and return promptly when it fires.
    pub fn cancelled(&self) -> &CancellationToken {
        &self.step.token
    }

    /// Whether the step has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.step.token.is_cancelled()
    }

    /// Reports progress: `fraction` in 0..=1, or negative when unknown.
    pub fn progress(&self, fraction: f64, message: impl Into<String>) {
        self.step.send(Kind::Progress(pb::Progress {
            fraction,
            message: message.into(),
        }));
    }

    /// Streams a partial output on `port`, sent to the host at once as a `Chunk`.
    pub fn emit(&self, port: &str, value: impl Serialize) -> Result<(), NodeError> {
        let value = self.wire_value(&value)?;
        self.step.send(Kind::Chunk(pb::Chunk {
            port: port.to_owned(),
            value,
        }));
        Ok(())
    }

    /// Tells the host the node is alive, with checkpoint details (`()` for none).
    pub fn heartbeat(&self, details: impl Serialize) -> Result<(), NodeError> {
        let details = match to_port_value(&details) {
            Ok(Some(PortValue::Json(JsonRepr::Tree(tree)))) if tree.is_null() => None,
            _ => self.wire_value(&details)?,
        };
        self.step.send(Kind::Heartbeat(pb::Heartbeat { details }));
        Ok(())
    }

    fn wire_value(&self, value: &impl Serialize) -> Result<Option<pb::Value>, NodeError> {
        let value = to_port_value(value)
            .map_err(|error| failures::output_invalid(format!("cannot encode a value: {error}")))?;
        match value {
            Some(value) => self.step.codec.encode(&value).map(Some),
            None => Ok(None),
        }
    }
}
