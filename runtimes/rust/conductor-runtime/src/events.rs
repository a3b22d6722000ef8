//! Builds the session's `Event`s and carries them to the response stream, batched.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use tokio::sync::mpsc;
use tonic::Status;

use crate::pb;
use crate::pb::event::Kind;

/// Where a session's events go; cloned into every invocation of the session.
#[derive(Debug, Clone)]
pub(crate) struct EventSink {
    sender: mpsc::UnboundedSender<pb::Event>,
}

impl EventSink {
    /// Queues one event. A closed session drops it, because nobody is left to read it.
    pub(crate) fn send(&self, invocation_id: u64, step: u32, kind: Kind) {
        let _ = self.sender.send(pb::Event {
            invocation_id,
            step,
            kind: Some(kind),
        });
    }
}

/// The response side of a session: yields every event that is ready as one `SessionResponse`.
#[derive(Debug)]
pub(crate) struct EventStream {
    receiver: mpsc::UnboundedReceiver<pb::Event>,
    max_batch_bytes: usize,
}

/// Most events in one response, so that one response never grows without bound under load.
const MAX_BATCH_EVENTS: usize = 1024;

pub(crate) fn event_channel(max_message_bytes: usize) -> (EventSink, EventStream) {
    let (sender, receiver) = mpsc::unbounded_channel();
    (
        EventSink { sender },
        EventStream {
            receiver,
            // Half the limit leaves room for the one event that crosses the estimate.
            max_batch_bytes: max_message_bytes / 2,
        },
    )
}

/// A cheap upper-bound guess of an event's encoded size: its payload bytes plus a constant.
fn estimate(event: &pb::Event) -> usize {
    fn value_len(value: Option<&pb::Value>) -> usize {
        match value.and_then(|value| value.kind.as_ref()) {
            Some(
                pb::value::Kind::Json(b) | pb::value::Kind::Raw(b) | pb::value::Kind::Arrow(b),
            ) => b.len(),
            Some(pb::value::Kind::Blob(blob)) => blob.uri.len() + 96,
            None => 0,
        }
    }
    64 + match &event.kind {
        Some(Kind::Completed(completed)) => completed
            .outputs
            .iter()
            .map(|(name, value)| name.len() + 16 + value_len(Some(value)))
            .sum(),
        Some(Kind::Chunk(chunk)) => chunk.port.len() + value_len(chunk.value.as_ref()),
        Some(Kind::Log(log)) => log.message.len() + log.fields_json.len(),
        Some(Kind::Heartbeat(heartbeat)) => value_len(heartbeat.details.as_ref()),
        Some(Kind::Failed(failed)) => failed.failure.as_ref().map_or(0, |failure| {
            failure.message.len() + failure.stack.len() + 256
        }),
        _ => 0,
    }
}

impl Stream for EventStream {
    type Item = Result<pb::SessionResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut events = Vec::new();
        let mut bytes = 0;
        loop {
            match self.receiver.poll_recv(cx) {
                Poll::Ready(Some(event)) => {
                    bytes += estimate(&event);
                    events.push(event);
                    if bytes >= self.max_batch_bytes || events.len() >= MAX_BATCH_EVENTS {
                        break;
                    }
                }
                Poll::Ready(None) if events.is_empty() => return Poll::Ready(None),
                Poll::Pending if events.is_empty() => return Poll::Pending,
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        Poll::Ready(Some(Ok(pb::SessionResponse { events })))
    }
}

pub(crate) fn started() -> Kind {
    Kind::Started(pb::Started {})
}

pub(crate) fn completed(
    outputs: std::collections::HashMap<String, pb::Value>,
    duration_us: u64,
) -> Kind {
    Kind::Completed(pb::Completed {
        outputs,
        duration_us,
    })
}

pub(crate) fn failed(failure: pb::Failure, duration_us: u64) -> Kind {
    Kind::Failed(pb::Failed {
        failure: Some(failure),
        duration_us,
    })
}

pub(crate) fn cancelled(reason: String) -> Kind {
    Kind::Cancelled(pb::Cancelled { reason })
}

pub(crate) fn rejected(failure: pb::Failure) -> Kind {
    Kind::Rejected(pb::Rejected {
        failure: Some(failure),
    })
}
