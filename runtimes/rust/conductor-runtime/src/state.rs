//! [`RuntimeState`]: what every call of one runtime process shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::pb;
use crate::registry::Registry;
use crate::wire::{ValueCodec, hex};

#[derive(Debug)]
pub(crate) struct RuntimeState {
    pub(crate) registry: Registry,
    pub(crate) codec: Arc<ValueCodec>,
    /// The name the host gave this runtime, e.g. `rust`.
    pub(crate) name: String,
    pub(crate) max_concurrency: usize,
    pub(crate) max_message_bytes: usize,
    pub(crate) node_types: pb::ListNodeTypesResponse,
    pub(crate) schema_hash: String,
    in_flight: AtomicUsize,
    draining: AtomicBool,
    idle: Notify,
    /// Fires when the host asked for `Shutdown`.
    pub(crate) shutdown: CancellationToken,
}

impl RuntimeState {
    pub(crate) fn new(
        registry: Registry,
        codec: ValueCodec,
        name: String,
        max_concurrency: usize,
        max_message_bytes: usize,
    ) -> Self {
        let node_types = pb::ListNodeTypesResponse {
            node_types: registry
                .nodes
                .iter()
                .map(|node| node.info().node_type.clone())
                .collect(),
        };
        let schema_hash = hex(&Sha256::digest(prost::Message::encode_to_vec(&node_types)));
        Self {
            registry,
            codec: Arc::new(codec),
            name,
            max_concurrency,
            max_message_bytes,
            node_types,
            schema_hash,
            in_flight: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            idle: Notify::new(),
            shutdown: CancellationToken::new(),
        }
    }

    /// Counts a new invocation in; false when `max_concurrency` are already running.
    pub(crate) fn try_begin(&self) -> bool {
        let before = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if before >= self.max_concurrency {
            self.end();
            return false;
        }
        true
    }

    /// Counts an invocation out. Called before its last event is queued, so that the host, which may send the next
    /// invocation as soon as it sees that event, never finds the runtime still full.
    pub(crate) fn end(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.idle.notify_waiters();
        }
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Stops admitting invocations and waits until the running ones end or `grace` passes; returns how many are
    /// still running.
    pub(crate) async fn drain(&self, grace: Duration) -> usize {
        self.draining.store(true, Ordering::Release);
        let deadline = tokio::time::Instant::now() + grace;
        loop {
            let idle = self.idle.notified();
            let running = self.in_flight.load(Ordering::Acquire);
            if running == 0 {
                return 0;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.in_flight.load(Ordering::Acquire);
            }
        }
    }
}
