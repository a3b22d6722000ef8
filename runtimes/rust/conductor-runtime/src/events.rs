//! Builds the session's `Event`s and carries them to the response stream, batched.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::Stream;
use tokio::sync::mpsc;
use tonic::Status;

use crate::pb;
use crate::pb::event::Kind;

/// Where a session's events go; cloned into every invocation of the session.
#[derive(Debug, Clone)]
pub(crate) struct EventSink {
    sender: mpsc::UnboundedSender<Vec<pb::Event>>,
}

impl EventSink {
    /// Queues events. A closed session drops them, because nobody is left to read them.
    pub(crate) fn send_all(&self, events: Vec<pb::Event>) {
        let _ = self.sender.send(events);
    }

    /// Queues one event.
    pub(crate) fn send(&self, invocation_id: u64, step: u32, kind: Kind) {
        self.send_all(vec![event(invocation_id, step, kind)]);
    }
}

fn event(invocation_id: u64, step: u32, kind: Kind) -> pb::Event {
    pb::Event {
        invocation_id,
        step,
        kind: Some(kind),
    }
}

/// One invocation's events on their way to the session.
///
/// While the invocation's code runs without waiting, its events are held and leave together when it waits or
/// ends: a chain of quick steps becomes one `SessionResponse` instead of one per event, because otherwise the
/// response stream, running on another worker thread, picks events up one by one as they are produced.
#[derive(Debug)]
pub(crate) struct Outbox {
    sink: EventSink,
    invocation_id: u64,
    state: Mutex<OutboxState>,
}

#[derive(Debug)]
struct OutboxState {
    held: Vec<pb::Event>,
    holding: bool,
    /// When the oldest held event was queued.
    since: Instant,
}

/// How long an event may be held. Because a node that computes without awaiting would otherwise hold its progress
/// and chunks until it ends, events older than this leave with the next one.
const HOLD_AT_MOST: Duration = Duration::from_millis(2);

impl Outbox {
    pub(crate) fn new(sink: EventSink, invocation_id: u64) -> Self {
        Self {
            sink,
            invocation_id,
            state: Mutex::new(OutboxState {
                held: Vec::with_capacity(4),
                holding: true,
                since: Instant::now(),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues an event of `step`; it leaves at once unless the invocation's code is running.
    pub(crate) fn push(&self, step: u32, kind: Kind) {
        let mut state = self.state();
        if state.held.is_empty() && state.holding {
            state.since = Instant::now();
        }
        state.held.push(event(self.invocation_id, step, kind));
        if !state.holding || state.since.elapsed() >= HOLD_AT_MOST {
            self.sink.send_all(std::mem::take(&mut state.held));
        }
    }

    /// Holds events while the invocation's code runs.
    pub(crate) fn hold(&self) {
        self.state().holding = true;
    }

    /// Sends what is held and lets later events leave at once.
    pub(crate) fn release(&self) {
        let mut state = self.state();
        state.holding = false;
        if !state.held.is_empty() {
            self.sink.send_all(std::mem::take(&mut state.held));
        }
    }
}

/// Runs a future with the outbox holding events while it is polled and releasing them whenever it waits.
pub(crate) struct Holding<'a, F> {
    pub(crate) outbox: &'a Outbox,
    pub(crate) future: Pin<&'a mut F>,
}

impl<F: Future> Future for Holding<'_, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.outbox.hold();
        let poll = self.future.as_mut().poll(cx);
        if poll.is_pending() {
            self.outbox.release();
        }
        poll
    }
}

/// The response side of a session: yields every event that is ready as one `SessionResponse`.
#[derive(Debug)]
pub(crate) struct EventStream {
    receiver: mpsc::UnboundedReceiver<Vec<pb::Event>>,
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
                Poll::Ready(Some(mut batch)) => {
                    bytes += batch.iter().map(estimate).sum::<usize>();
                    if events.is_empty() {
                        events = batch;
                    } else {
                        events.append(&mut batch);
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outbox_holds_events_while_code_runs_and_sends_them_as_one_batch() {
        let (sink, mut stream) = event_channel(1 << 20);
        let outbox = Outbox::new(sink, 7);
        outbox.push(0, started());
        outbox.push(0, completed(Default::default(), 1));
        outbox.push(1, started());
        assert!(stream.receiver.try_recv().is_err());
        outbox.release();
        let batch = stream.receiver.try_recv().unwrap();
        assert_eq!(batch.len(), 3);
        assert!(batch.iter().all(|event| event.invocation_id == 7));
        assert_eq!(
            batch.iter().map(|event| event.step).collect::<Vec<_>>(),
            [0, 0, 1]
        );
    }

    #[test]
    fn a_released_outbox_sends_each_event_at_once() {
        let (sink, mut stream) = event_channel(1 << 20);
        let outbox = Outbox::new(sink, 1);
        outbox.release();
        outbox.push(0, started());
        assert_eq!(stream.receiver.try_recv().unwrap().len(), 1);
        outbox.hold();
        outbox.push(0, cancelled("stop".into()));
        assert!(stream.receiver.try_recv().is_err());
    }
}
