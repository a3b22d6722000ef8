//! Stream outputs (docs/protocol.md, section 3.5): a step's streams are sent as `Chunk` events, one item per credit
//! the host granted, before the step's terminal event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use futures_util::future::try_join_all;
use tokio::sync::Semaphore;

use crate::NodeError;
use crate::context::StepScope;
use crate::error::failures;
use crate::pb;
use crate::pb::event::Kind;
use crate::port_de::Ports;
use crate::stream::{ErasedStream, ItemError};
use crate::value::PortValue;

/// The credits the host granted for the stream outputs of one invocation, by step and port.
///
/// A port's credits are a semaphore of items: the host's `Credit` commands add permits, and each item sent takes
/// one. Because the first credits come in the same request as `Execute`, before the step has run, a port's
/// semaphore is made by whichever comes first, the credit or the step's stream.
#[derive(Debug, Default)]
pub(crate) struct OutputCredits {
    ports: Mutex<HashMap<(u32, String), Arc<Semaphore>>>,
}

impl OutputCredits {
    fn port(&self, step: u32, port: &str) -> Arc<Semaphore> {
        self.ports
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry((step, port.to_owned()))
            .or_insert_with(|| Arc::new(Semaphore::new(0)))
            .clone()
    }

    /// Adds the credits of a host's `Credit` command.
    pub(crate) fn grant(&self, step: u32, port: &str, credits: u32) {
        let semaphore = self.port(step, port);
        // A semaphore holds at most `Semaphore::MAX_PERMITS`; a host never grants anywhere near that many.
        let room = Semaphore::MAX_PERMITS.saturating_sub(semaphore.available_permits());
        semaphore.add_permits((credits as usize).min(room));
    }
}

/// Sends the items of every stream output in `ports` within their credits, then gives back the other outputs,
/// which go into the step's `completed` event. The first failing stream fails the step (the others are dropped);
/// cancelling the step drops them all, so that their `Drop` code runs.
pub(crate) async fn send_streams(
    ports: Ports,
    scope: &StepScope,
    credits: &OutputCredits,
) -> Result<Ports, NodeError> {
    let (streams, plain): (Ports, Ports) = ports
        .into_iter()
        .partition(|(_, value)| matches!(value, PortValue::Stream(_)));
    if streams.is_empty() {
        return Ok(plain);
    }
    let mut senders = Vec::with_capacity(streams.len());
    for (port, value) in streams {
        let PortValue::Stream(slot) = value else {
            continue;
        };
        let stream = slot.take().ok_or_else(|| {
            failures::output_invalid(format!(
                "{}: stream output \"{port}\" was already taken",
                who(scope)
            ))
        })?;
        let semaphore = credits.port(scope.index, &port);
        senders.push(send_stream(port, stream, semaphore, scope));
    }
    tokio::select! {
        biased;
        () = scope.token.cancelled() => Err(NodeError::new(format!(
            "{}: cancelled while streaming",
            who(scope)
        ))),
        sent = try_join_all(senders) => sent.map(|_| plain),
    }
}

/// Sends one stream's items: waits for a credit before it asks the stream for the next item, so that a lazy
/// stream computes no item the host has not asked for.
async fn send_stream(
    port: String,
    mut stream: ErasedStream,
    credits: Arc<Semaphore>,
    scope: &StepScope,
) -> Result<(), NodeError> {
    let mut position: u64 = 0;
    loop {
        match credits.acquire().await {
            Ok(permit) => permit.forget(),
            // The semaphore is never closed; should it be, the stream ends as if it had no more items.
            Err(_) => return Ok(()),
        }
        let value = match stream.next().await {
            None => return Ok(()),
            Some(Ok(value)) => value,
            Some(Err(ItemError::Failed(error))) => return Err(error),
            Some(Err(ItemError::Invalid(text))) => {
                return Err(invalid_item(scope, &port, position, &text));
            }
        };
        let value = scope.codec.encode(&value).map_err(|error| {
            if error.kind() == "output.invalid" {
                invalid_item(scope, &port, position, error.message())
            } else {
                error
            }
        })?;
        scope.send(Kind::Chunk(pb::Chunk {
            port: port.clone(),
            value: Some(value),
        }));
        position += 1;
    }
}

fn who(scope: &StepScope) -> String {
    format!("node \"{}\" ({})", scope.node_id, scope.node_type)
}

fn invalid_item(scope: &StepScope, port: &str, position: u64, text: &str) -> NodeError {
    failures::output_invalid(format!(
        "{}: item {position} of stream output \"{port}\" is invalid: {text}",
        who(scope)
    ))
}
