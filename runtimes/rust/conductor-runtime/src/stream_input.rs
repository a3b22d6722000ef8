//! Stream inputs (docs/protocol.md, section 3.5): the host forwards a step's input items in `StreamItems`
//! commands, never more than the step granted with `Credit` events; the node reads them as a stream.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use serde_json::json;

use crate::NodeError;
use crate::context::StepScope;
use crate::pb;
use crate::pb::event::Kind;
use crate::stream::{ItemError, StreamSlot};
use crate::value::PortValue;

/// The credits a stream input grants when its step starts: at most this many items are ever buffered.
pub(crate) const WINDOW: u64 = 64;

/// How many items the node reads before the runtime grants that many again: half the window, so that the host
/// has credits left while the grant travels.
const REGRANT: u64 = WINDOW / 2;

/// The stream inputs of one invocation's steps, by step and port, for the session to deliver items to.
#[derive(Debug, Default)]
pub(crate) struct InputStreams {
    ports: Mutex<HashMap<(u32, String), Arc<InputStream>>>,
}

impl InputStreams {
    /// Opens the stream input `port` of the step of `scope`, grants the initial window and gives the value the node
    /// reads.
    pub(crate) fn open(
        &self,
        scope: &Arc<StepScope>,
        port: &str,
        source: &pb::StreamSource,
    ) -> PortValue {
        let input = Arc::new(InputStream {
            scope: scope.clone(),
            port: port.to_owned(),
            source: format!("{}.{}", source.node_id, source.port),
            state: Mutex::new(InputState::default()),
        });
        self.ports
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert((scope.index, port.to_owned()), input.clone());
        input.grant(WINDOW);
        let who = format!("node \"{}\" ({})", scope.node_id, scope.node_type);
        PortValue::Stream(StreamSlot::new(Box::pin(Reader { input }), &who, port))
    }

    /// Hands the items (or the end, or the failure) of a `StreamItems` command to their stream input; items for a
    /// step that has ended, or a stream its node stopped reading, are dropped.
    pub(crate) fn deliver(&self, items: pb::StreamItems) {
        let input = self
            .ports
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&(items.step, items.port.clone()))
            .cloned();
        if let Some(input) = input {
            input.deliver(items);
        }
    }
}

#[derive(Debug)]
struct InputStream {
    scope: Arc<StepScope>,
    port: String,
    /// The producing node and port, `node.port`, for messages.
    source: String,
    state: Mutex<InputState>,
}

#[derive(Debug, Default)]
struct InputState {
    /// Items received and not read yet, still in their wire encoding.
    queue: VecDeque<pb::Value>,
    /// Credits granted in all.
    granted: u64,
    /// Items received in all.
    received: u64,
    /// Items read since the last grant.
    unacknowledged: u64,
    /// The host ended the stream.
    ended: bool,
    /// The error the node gets after the queued items: an upstream failure or an overrun.
    failure: Option<NodeError>,
    /// The node dropped its stream: nothing more is kept.
    closed: bool,
    waker: Option<Waker>,
}

impl InputStream {
    fn state(&self) -> MutexGuard<'_, InputState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn who(&self) -> String {
        format!("node \"{}\" ({})", self.scope.node_id, self.scope.node_type)
    }

    /// Grants `credits` more items with an `Event.credit` of the step (the `Credit`'s own ids are left 0).
    fn grant(&self, credits: u64) {
        self.state().granted += credits;
        self.scope.send(Kind::Credit(pb::Credit {
            invocation_id: 0,
            step: 0,
            port: self.port.clone(),
            credits: u32::try_from(credits).unwrap_or(u32::MAX),
        }));
    }

    fn deliver(&self, items: pb::StreamItems) {
        let mut state = self.state();
        if state.closed || state.ended || state.failure.is_some() {
            return;
        }
        let count = items.items.len() as u64;
        let allowed = state.granted - state.received;
        if count > allowed {
            // Because a runtime never buffers more than it granted, items beyond the credits end the stream.
            state.queue.clear();
            state.failure = Some(
                NodeError::permanent(format!(
                    "{}: stream input \"{}\" (from \"{}\") received {count} items with {allowed} credits left of the {} it granted",
                    self.who(),
                    self.port,
                    self.source,
                    state.granted
                ))
                .with_type("stream.overrun"),
            );
        } else {
            state.received += count;
            state.queue.extend(items.items);
            if let Some(failure) = items.failure {
                state.failure = Some(self.upstream(failure, state.received));
            } else if items.end {
                state.ended = true;
            }
        }
        if let Some(waker) = state.waker.take() {
            drop(state);
            waker.wake();
        }
    }

    /// The producer's failure as the node sees it: type `stream.upstream`, the producer's message and retryable
    /// flag, and what failed in the details.
    fn upstream(&self, failure: pb::Failure, received: u64) -> NodeError {
        let (producer, port) = self
            .source
            .split_once('.')
            .unwrap_or((self.source.as_str(), ""));
        NodeError::new(failure.message)
            .with_type("stream.upstream")
            .retryable(failure.retryable)
            .details(json!({
                "producer": producer,
                "port": port,
                "items": received,
                "type": failure.r#type,
            }))
    }

    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Result<PortValue, ItemError>>> {
        let mut state = self.state();
        if let Some(value) = state.queue.pop_front() {
            state.unacknowledged += 1;
            let regrant =
                if state.unacknowledged >= REGRANT && !state.ended && state.failure.is_none() {
                    std::mem::take(&mut state.unacknowledged)
                } else {
                    0
                };
            drop(state);
            if regrant > 0 {
                self.grant(regrant);
            }
            let value = self
                .scope
                .codec
                .decode(value, &self.port)
                .map_err(ItemError::Failed);
            return Poll::Ready(Some(value));
        }
        if let Some(failure) = state.failure.take() {
            state.ended = true;
            return Poll::Ready(Some(Err(ItemError::Failed(failure))));
        }
        if state.ended {
            return Poll::Ready(None);
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    fn close(&self) {
        let mut state = self.state();
        state.closed = true;
        state.queue = VecDeque::new();
        state.waker = None;
    }
}

/// What the node's [`crate::Stream`] input reads; dropping it (the node stopped reading) frees what is buffered.
struct Reader {
    input: Arc<InputStream>,
}

impl futures_util::Stream for Reader {
    type Item = Result<PortValue, ItemError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.input.poll_next(cx)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.input.close();
    }
}
