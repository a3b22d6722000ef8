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
    // A checkpoint costs no credit: the one taken is kept for the next item.
    let mut held = false;
    loop {
        if !held {
            match credits.acquire().await {
                Ok(permit) => permit.forget(),
                // The semaphore is never closed; should it be, the stream ends as if it had no more items.
                Err(_) => return Ok(()),
            }
        }
        held = false;
        let value = match stream.next().await {
            None => return Ok(()),
            Some(Ok(value)) => value,
            Some(Err(ItemError::Checkpoint(state))) => {
                let state = scope.codec.encode(&PortValue::json(state))?;
                scope.send(Kind::Checkpoint(pb::StreamCheckpoint {
                    port: port.clone(),
                    state: Some(state),
                }));
                held = true;
                continue;
            }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use futures_util::StreamExt;
    use serde::{Serialize, Serializer};

    use crate::events::{EventStream, event_channel};
    use crate::invocation::run_invocation;
    use crate::pb;
    use crate::pb::event::Kind;
    use crate::session::{InvocationHandle, SessionState};
    use crate::state::RuntimeState;
    use crate::wire::ValueCodec;
    use crate::{Context, Empty, Node, NodeError, NodeSpec, Registry, Stream, async_trait};

    /// Sets its flag when dropped: stands for the code a generator runs when it is closed.
    struct Guard(Arc<AtomicBool>);

    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[derive(Serialize, schemars::JsonSchema)]
    struct Items<T: Serialize + schemars::JsonSchema + Send + 'static> {
        items: Stream<T>,
    }

    /// Counts up without end, holding a [`Guard`] in its stream.
    struct Endless {
        dropped: Arc<AtomicBool>,
    }

    #[async_trait]
    impl Node for Endless {
        type Config = Empty;
        type Input = Empty;
        type Output = Items<u64>;

        fn spec(&self) -> NodeSpec {
            NodeSpec::new("test.endless", "1")
        }

        async fn run(&self, _: &Context, _: Empty, _: Empty) -> Result<Items<u64>, NodeError> {
            let guard = Guard(self.dropped.clone());
            let items = futures_util::stream::unfold((0u64, guard), |(next, guard)| async move {
                Some((Ok(next), (next + 1, guard)))
            });
            Ok(Items {
                items: Stream::new(items),
            })
        }
    }

    /// An item whose serialization fails at 2.
    #[derive(schemars::JsonSchema)]
    struct Picky(u32);

    impl Serialize for Picky {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            if self.0 == 2 {
                return Err(serde::ser::Error::custom("two is not allowed"));
            }
            serializer.serialize_u32(self.0)
        }
    }

    struct PickyItems;

    #[async_trait]
    impl Node for PickyItems {
        type Config = Empty;
        type Input = Empty;
        type Output = Items<Picky>;

        fn spec(&self) -> NodeSpec {
            NodeSpec::new("test.picky", "1")
        }

        async fn run(&self, _: &Context, _: Empty, _: Empty) -> Result<Items<Picky>, NodeError> {
            Ok(Items {
                items: Stream::from_iter((0..5).map(Picky)),
            })
        }
    }

    /// Starts a one-step invocation of `node_type` with `credits` on its output `items`.
    fn start(
        registry: Registry,
        node_type: &str,
        credits: u32,
    ) -> (
        Arc<InvocationHandle>,
        EventStream,
        tokio::task::JoinHandle<()>,
    ) {
        let nodes = vec![registry.get(node_type).unwrap().clone()];
        let runtime = Arc::new(RuntimeState::new(
            registry,
            ValueCodec::new(None, 1 << 20),
            "rust".into(),
            8,
            1 << 26,
        ));
        let (sink, stream) = event_channel(1 << 26);
        let handle = Arc::new(InvocationHandle::default());
        handle.output_credits.grant(0, "items", credits);
        let execute = pb::Execute {
            invocation_id: 1,
            execution_id: "e".into(),
            steps: vec![pb::Step {
                node_id: "t".into(),
                node_type: node_type.into(),
                attempt: 1,
                ..Default::default()
            }],
        };
        assert!(runtime.try_begin());
        let task = tokio::spawn(run_invocation(
            runtime,
            Arc::new(SessionState::default()),
            handle.clone(),
            sink,
            execute,
            nodes,
        ));
        (handle, stream, task)
    }

    async fn next_events(stream: &mut EventStream) -> Vec<pb::Event> {
        tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("an event within 10 s")
            .expect("the stream stays open")
            .unwrap()
            .events
    }

    /// Reads events until `done` says so of the events read so far.
    async fn read_until(
        stream: &mut EventStream,
        done: impl Fn(&[pb::Event]) -> bool,
    ) -> Vec<pb::Event> {
        let mut events = Vec::new();
        while !done(&events) {
            events.extend(next_events(stream).await);
        }
        events
    }

    fn chunks(events: &[pb::Event]) -> usize {
        events
            .iter()
            .filter(|event| matches!(event.kind, Some(Kind::Chunk(_))))
            .count()
    }

    #[tokio::test]
    async fn a_cancel_drops_a_stream_held_by_its_credits_so_that_its_drop_code_runs() {
        let dropped = Arc::new(AtomicBool::new(false));
        let registry = Registry::new().node(Endless {
            dropped: dropped.clone(),
        });
        let (handle, mut stream, task) = start(registry, "test.endless", 2);
        let events = read_until(&mut stream, |events| chunks(events) >= 2).await;
        assert_eq!(chunks(&events), 2);
        assert!(!dropped.load(Ordering::SeqCst));
        handle.cancel("stop".into(), 1000);
        let events = read_until(&mut stream, |events| {
            events
                .iter()
                .any(|event| matches!(event.kind, Some(Kind::Cancelled(_))))
        })
        .await;
        assert_eq!(chunks(&events), 0);
        task.await.unwrap();
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn an_item_that_does_not_serialize_fails_the_step_naming_its_position() {
        let registry = Registry::new().node(PickyItems);
        let (_handle, mut stream, task) = start(registry, "test.picky", 64);
        let events = read_until(&mut stream, |events| {
            events
                .iter()
                .any(|event| matches!(event.kind, Some(Kind::Failed(_))))
        })
        .await;
        task.await.unwrap();
        assert_eq!(chunks(&events), 2);
        let failure = events
            .iter()
            .find_map(|event| match &event.kind {
                Some(Kind::Failed(failed)) => failed.failure.clone(),
                _ => None,
            })
            .unwrap();
        assert_eq!(failure.r#type, "output.invalid");
        assert_eq!(
            failure.message,
            "node \"t\" (test.picky): item 2 of stream output \"items\" is invalid: two is not allowed"
        );
    }
}
