//! One `Session` stream: reads commands, admits or rejects invocations, routes cancellation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use tokio_util::sync::CancellationToken;
use tonic::Streaming;

use crate::NodeError;
use crate::error::failures;
use crate::events::{EventSink, rejected};
use crate::invocation::run_invocation;
use crate::pb;
use crate::registry::ErasedNode;
use crate::state::RuntimeState;
use crate::stream_input::InputStreams;
use crate::stream_output::OutputCredits;

/// The reason given to nodes when their session goes away.
const SESSION_CLOSED: &str = "the session closed";

/// The running invocations of one session, by invocation id.
#[derive(Debug, Default)]
pub(crate) struct SessionState {
    invocations: Mutex<HashMap<u64, Arc<InvocationHandle>>>,
}

/// How the session reaches a running invocation: its cancellation token and the cancel's reason and grace, and
/// its steps' streams, for `Credit` and `StreamItems` commands.
#[derive(Debug, Default)]
pub(crate) struct InvocationHandle {
    pub(crate) token: CancellationToken,
    reason: OnceLock<String>,
    grace_ms: AtomicU32,
    pub(crate) output_credits: OutputCredits,
    pub(crate) input_streams: InputStreams,
}

impl InvocationHandle {
    pub(crate) fn cancel(&self, reason: String, grace_ms: u32) {
        let _ = self.reason.set(reason);
        self.grace_ms.store(grace_ms, Ordering::Relaxed);
        self.token.cancel();
    }

    pub(crate) fn reason(&self) -> String {
        self.reason.get().cloned().unwrap_or_default()
    }

    pub(crate) fn grace(&self) -> std::time::Duration {
        std::time::Duration::from_millis(u64::from(self.grace_ms.load(Ordering::Relaxed)))
    }
}

impl SessionState {
    fn get(&self, invocation_id: u64) -> Option<Arc<InvocationHandle>> {
        self.invocations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&invocation_id)
            .cloned()
    }

    /// Forgets a finished invocation.
    pub(crate) fn finish(&self, invocation_id: u64) {
        self.invocations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&invocation_id);
    }
}

/// Reads the host's commands until the stream ends, then cancels whatever is still running.
pub(crate) async fn read_commands(
    runtime: Arc<RuntimeState>,
    mut inbound: Streaming<pb::SessionRequest>,
    events: EventSink,
) {
    let session = Arc::new(SessionState::default());
    while let Ok(Some(request)) = inbound.message().await {
        for command in request.commands {
            match command.kind {
                Some(pb::command::Kind::Execute(execute)) => {
                    admit(&runtime, &session, &events, execute);
                }
                Some(pb::command::Kind::Cancel(cancel)) => {
                    if let Some(handle) = session.get(cancel.invocation_id) {
                        handle.cancel(cancel.reason, cancel.grace_ms);
                    }
                }
                // Credits and items for an invocation that has ended are dropped: the host sends them as its
                // readers go, without knowing whether the step is still running.
                Some(pb::command::Kind::Credit(credit)) => {
                    if let Some(handle) = session.get(credit.invocation_id) {
                        handle
                            .output_credits
                            .grant(credit.step, &credit.port, credit.credits);
                    }
                }
                Some(pb::command::Kind::StreamItems(items)) => {
                    if let Some(handle) = session.get(items.invocation_id) {
                        handle.input_streams.deliver(items);
                    }
                }
                None => {}
            }
        }
    }
    let running: Vec<_> = session
        .invocations
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .values()
        .cloned()
        .collect();
    for handle in running {
        handle.cancel(SESSION_CLOSED.to_owned(), 0);
    }
}

/// Starts an invocation, or answers it with one `rejected` event when it cannot start.
fn admit(
    runtime: &Arc<RuntimeState>,
    session: &Arc<SessionState>,
    events: &EventSink,
    execute: pb::Execute,
) {
    let invocation_id = execute.invocation_id;
    let reject = |error: NodeError| {
        events.send(invocation_id, 0, rejected(error.failure()));
    };
    let nodes = match resolve_steps(runtime, &execute.steps) {
        Ok(nodes) => nodes,
        Err(error) => return reject(error),
    };
    if runtime.is_draining() {
        return reject(failures::busy(format!(
            "runtime \"{}\" is draining and accepts no new invocations",
            runtime.name
        )));
    }
    if !runtime.try_begin() {
        return reject(failures::busy(format!(
            "runtime \"{}\" is busy: {} invocations are in flight, max_concurrency is {}",
            runtime.name, runtime.max_concurrency, runtime.max_concurrency
        )));
    }
    let handle = Arc::new(InvocationHandle::default());
    {
        let mut invocations = session
            .invocations
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if invocations.contains_key(&invocation_id) {
            drop(invocations);
            runtime.end();
            return reject(failures::step_invalid(format!(
                "invocation {invocation_id} is already running in this session"
            )));
        }
        invocations.insert(invocation_id, handle.clone());
    }
    tokio::spawn(run_invocation(
        runtime.clone(),
        session.clone(),
        handle,
        events.clone(),
        execute,
        nodes,
    ));
}

/// Finds every step's node type and checks that every `StepOutput` names an earlier step's output port.
fn resolve_steps(
    runtime: &RuntimeState,
    steps: &[pb::Step],
) -> Result<Vec<Arc<dyn ErasedNode>>, NodeError> {
    if steps.is_empty() {
        return Err(failures::step_invalid(
            "an invocation needs at least one step".to_owned(),
        ));
    }
    let mut nodes: Vec<Arc<dyn ErasedNode>> = Vec::with_capacity(steps.len());
    for (index, step) in steps.iter().enumerate() {
        let Some(node) = runtime.registry.get(&step.node_type) else {
            let mut error = failures::unknown_node_type(&step.node_type);
            error = NodeError::permanent(format!(
                "node \"{}\" (step {index}): {}",
                step.node_id,
                error.message()
            ))
            .with_type(error.kind().to_owned());
            return Err(error);
        };
        for (port, input) in &step.inputs {
            let Some(pb::input::Source::StepOutput(reference)) = &input.source else {
                continue;
            };
            let from = reference.step as usize;
            if from >= index {
                return Err(failures::step_invalid(format!(
                    "node \"{}\" (step {index}): input \"{port}\" refers to step {from}, which is not an earlier step",
                    step.node_id
                )));
            }
            let source: &Arc<dyn ErasedNode> = &nodes[from];
            if source.info().is_stream_output(&reference.port) {
                return Err(failures::step_invalid(format!(
                    "node \"{}\" (step {index}): input \"{port}\" refers to stream output \"{}\" of node \"{}\" ({}) in the same invocation; a stream is read through StreamItems, so its producer must be an invocation of its own",
                    step.node_id, reference.port, steps[from].node_id, steps[from].node_type,
                )));
            }
            if !source.info().has_output(&reference.port) {
                return Err(failures::step_invalid(format!(
                    "node \"{}\" (step {index}): input \"{port}\" refers to output \"{}\" of node \"{}\" ({}), which has no such output; its outputs are: {}",
                    step.node_id,
                    reference.port,
                    steps[from].node_id,
                    steps[from].node_type,
                    source.info().output_names()
                )));
            }
        }
        nodes.push(node.clone());
    }
    Ok(nodes)
}
