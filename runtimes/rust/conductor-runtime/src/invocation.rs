//! Runs one invocation: its steps in order, each to exactly one terminal event.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;

use crate::NodeError;
use crate::context::{Context, StepScope};
use crate::error::failures;
use crate::events::{self, EventSink, Holding, Outbox};
use crate::log_layer::CURRENT_STEP;
use crate::pb;
use crate::pb::event::Kind;
use crate::port_de::Ports;
use crate::registry::ErasedNode;
use crate::session::{InvocationHandle, SessionState};
use crate::state::RuntimeState;
use crate::stream_output::send_streams;

/// The W3C trace context of a step (traceparent, tracestate), kept only when the `telemetry` feature is on.
#[cfg(feature = "telemetry")]
type StepTraceContext = (String, String);
#[cfg(not(feature = "telemetry"))]
type StepTraceContext = ();

/// How a step ended.
enum Outcome {
    Completed(Ports),
    Failed(NodeError),
    Cancelled(String),
}

pub(crate) async fn run_invocation(
    runtime: Arc<RuntimeState>,
    session: Arc<SessionState>,
    handle: Arc<InvocationHandle>,
    events: EventSink,
    execute: pb::Execute,
    nodes: Vec<Arc<dyn ErasedNode>>,
) {
    let invocation_id = execute.invocation_id;
    let outbox = Arc::new(Outbox::new(events, invocation_id));
    let execution_id: Arc<str> = execute.execution_id.into();
    let last = execute.steps.len().saturating_sub(1);
    let mut outputs: Vec<Ports> = Vec::with_capacity(execute.steps.len());
    let mut terminal: Option<(u32, Kind)> = None;

    for ((index, step), node) in execute.steps.into_iter().enumerate().zip(nodes) {
        let index_u32 = index as u32;
        if handle.token.is_cancelled() {
            terminal = Some((index_u32, events::cancelled(handle.reason())));
            break;
        }
        outbox.push(index_u32, events::started());
        #[cfg(feature = "telemetry")]
        let trace: StepTraceContext = (step.traceparent, step.tracestate);
        #[cfg(not(feature = "telemetry"))]
        let trace: StepTraceContext = ();
        let undeclared = undeclared_input(&*node, &step.node_id, &step.inputs);
        let scope = Arc::new(StepScope {
            invocation_id,
            index: index_u32,
            node_id: step.node_id,
            node_type: step.node_type,
            execution_id: execution_id.clone(),
            attempt: step.attempt,
            token: handle.token.child_token(),
            outbox: outbox.clone(),
            codec: runtime.codec.clone(),
            resume: step.resume,
        });
        let started_at = Instant::now();
        let resolved = match undeclared {
            Some(error) => Err(error),
            None => resolve_inputs(&runtime, &handle, &scope, step.inputs, &outputs),
        };
        let outcome = match resolved {
            Ok(inputs) => {
                run_step(
                    &*node,
                    scope.clone(),
                    step.config.as_ref(),
                    &inputs,
                    step.timeout_ms,
                    &handle,
                    trace,
                )
                .await
            }
            Err(error) => Outcome::Failed(error),
        };
        let duration_us = u64::try_from(started_at.elapsed().as_micros()).unwrap_or(u64::MAX);
        let kind = match outcome {
            Outcome::Completed(ports) => match encode_outputs(&runtime, &ports) {
                Ok(wire) => {
                    let kind = events::completed(wire, duration_us);
                    if index == last {
                        terminal = Some((index_u32, kind));
                        break;
                    }
                    outbox.push(index_u32, kind);
                    outputs.push(ports);
                    continue;
                }
                Err(error) => events::failed(error.failure(), duration_us),
            },
            Outcome::Failed(error) => events::failed(error.failure(), duration_us),
            Outcome::Cancelled(reason) => events::cancelled(reason),
        };
        terminal = Some((index_u32, kind));
        break;
    }

    session.finish(invocation_id);
    runtime.end();
    if let Some((step, kind)) = terminal {
        outbox.push(step, kind);
    }
    outbox.release();
}

/// An input for a port the node type does not declare fails the step as `input.invalid` (docs/protocol.md §3.1):
/// because the host checks bindings against the declared ports, one can only come from a host bug, which must
/// not pass silently.
fn undeclared_input(
    node: &dyn ErasedNode,
    node_id: &str,
    inputs: &HashMap<String, pb::Input>,
) -> Option<NodeError> {
    let declared = &node.info().node_type.inputs;
    let mut undeclared: Vec<&String> = inputs
        .keys()
        .filter(|name| !declared.iter().any(|port| &port.name == *name))
        .collect();
    undeclared.sort();
    let port = undeclared.first()?;
    let known: Vec<&str> = declared.iter().map(|port| port.name.as_str()).collect();
    Some(failures::input_invalid(format!(
        "node \"{node_id}\" ({}) has no input \"{port}\"; its inputs are: {}",
        node.info().node_type.r#type,
        if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        }
    )))
}

/// Gathers a step's input values: wire values are decoded (blobs read), earlier outputs shared as they are, and
/// stream inputs opened (granting their first credits).
fn resolve_inputs(
    runtime: &RuntimeState,
    handle: &InvocationHandle,
    scope: &Arc<StepScope>,
    inputs: HashMap<String, pb::Input>,
    outputs: &[Ports],
) -> Result<Ports, NodeError> {
    let mut ports = Vec::with_capacity(inputs.len());
    for (name, input) in inputs {
        match input.source {
            Some(pb::input::Source::Value(value)) => {
                let value = runtime.codec.decode(value, &name)?;
                ports.push((name, value));
            }
            Some(pb::input::Source::StepOutput(reference)) => {
                // A missing earlier output (an optional port left empty) leaves this input unset.
                if let Some((_, value)) = outputs
                    .get(reference.step as usize)
                    .and_then(|ports| ports.iter().find(|(port, _)| *port == reference.port))
                {
                    ports.push((name, value.clone()));
                }
            }
            Some(pb::input::Source::Stream(source)) => {
                let value = handle.input_streams.open(scope, &name, &source);
                ports.push((name, value));
            }
            None => {}
        }
    }
    Ok(ports)
}

fn encode_outputs(
    runtime: &RuntimeState,
    ports: &Ports,
) -> Result<HashMap<String, pb::Value>, NodeError> {
    let mut wire = HashMap::with_capacity(ports.len());
    for (name, value) in ports {
        wire.insert(name.clone(), runtime.codec.encode(value)?);
    }
    Ok(wire)
}

/// Runs the node's code under the step's timeout and the invocation's cancellation; a panic becomes a failure.
async fn run_step(
    node: &dyn ErasedNode,
    scope: Arc<StepScope>,
    config: Option<&pb::Value>,
    inputs: &Ports,
    timeout_ms: u32,
    handle: &InvocationHandle,
    trace: StepTraceContext,
) -> Outcome {
    let ctx = Context {
        step: scope.clone(),
    };
    let step_token = scope.token.clone();
    let outbox = scope.outbox.clone();
    // A stream output is sent within the step: its items are the step's chunks, its end the step's end, so the
    // step's timeout, cancellation and panic handling cover the streaming too.
    let streaming = scope.clone();
    let run = async {
        let ports = node.run(&ctx, config, inputs).await?;
        send_streams(ports, &streaming, &handle.output_credits).await
    };
    #[cfg(feature = "telemetry")]
    let run = crate::telemetry::instrument(
        run,
        &crate::telemetry::StepTrace {
            traceparent: &trace.0,
            tracestate: &trace.1,
        },
    );
    #[cfg(not(feature = "telemetry"))]
    let () = trace;
    let run = CURRENT_STEP.scope(scope, run);
    let run = std::pin::pin!(AssertUnwindSafe(run).catch_unwind());
    let mut run = std::pin::pin!(Holding {
        outbox: &outbox,
        future: run,
    });
    let deadline = async {
        if timeout_ms == 0 {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(Duration::from_millis(u64::from(timeout_ms))).await;
    };

    tokio::select! {
        biased;
        result = run.as_mut() => {
            if handle.token.is_cancelled() {
                return Outcome::Cancelled(handle.reason());
            }
            match result {
                Ok(Ok(ports)) => Outcome::Completed(ports),
                Ok(Err(error)) => Outcome::Failed(error),
                Err(panic) => Outcome::Failed(
                    failures::panic(panic_message(panic.as_ref()).to_owned()).stack(format!(
                        "node \"{}\" ({}) panicked; the panic hook printed its location to stderr",
                        ctx.node_id(),
                        ctx.node_type()
                    )),
                ),
            }
        }
        () = handle.token.cancelled() => {
            // The node was told; give it the grace period to return, then stop polling it.
            let _ = tokio::time::timeout(handle.grace(), run.as_mut()).await;
            Outcome::Cancelled(handle.reason())
        }
        () = deadline => {
            // The node is told, and its cancellation handling runs: the step ends when the node returns, so that a
            // retry never runs beside it. The host cancels a step it sees outlive its timeout; after that Cancel's
            // grace the future is dropped (docs/protocol.md, section 3.1).
            step_token.cancel();
            tokio::select! {
                biased;
                _ = run.as_mut() => {}
                () = handle.token.cancelled() => {
                    let _ = tokio::time::timeout(handle.grace(), run.as_mut()).await;
                }
            }
            Outcome::Failed(failures::timeout(format!(
                "node \"{}\" ({}) timed out after {timeout_ms} ms",
                ctx.node_id(),
                ctx.node_type()
            )))
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        text
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text
    } else {
        "a panic without a message"
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use futures_util::StreamExt;

    use super::run_invocation;
    use crate::events::event_channel;
    use crate::pb;
    use crate::pb::event::Kind;
    use crate::session::{InvocationHandle, SessionState};
    use crate::state::RuntimeState;
    use crate::wire::ValueCodec;
    use crate::{Context, Empty, Node, NodeError, NodeSpec, Registry, async_trait};

    /// Waits for its cancellation and reports it noticed; then, unless `stubborn`, takes a while to clean up,
    /// reporting progress before and after, while a `stubborn` one goes on as if nothing happened.
    struct Tidy {
        stubborn: bool,
    }

    #[async_trait]
    impl Node for Tidy {
        type Config = Empty;
        type Input = Empty;
        type Output = Empty;

        fn spec(&self) -> NodeSpec {
            let name = if self.stubborn {
                "test.stubborn"
            } else {
                "test.tidy"
            };
            NodeSpec::new(name, "1")
        }

        async fn run(&self, ctx: &Context, _: Empty, _: Empty) -> Result<Empty, NodeError> {
            ctx.cancelled().cancelled().await;
            if self.stubborn {
                ctx.progress(0.0, "ignoring the token");
                tokio::time::sleep(Duration::from_secs(60)).await;
                return Ok(Empty {});
            }
            ctx.progress(0.5, "cleaning up");
            tokio::time::sleep(Duration::from_millis(50)).await;
            ctx.progress(1.0, "cleaned up");
            Err(NodeError::new("stopped"))
        }
    }

    /// Runs one step of `node_type` with a 20 ms timeout; once the node says it ignores its token, sends the
    /// host's Cancel (grace 50 ms), as the host does at its own clock's timeout. Gives the events' kinds (progress
    /// by its message) and the terminal failure.
    async fn run(node_type: &str) -> (Vec<String>, pb::Failure) {
        let registry = Registry::new()
            .node(Tidy { stubborn: false })
            .node(Tidy { stubborn: true });
        let nodes = vec![registry.get(node_type).unwrap().clone()];
        let runtime = Arc::new(RuntimeState::new(
            registry,
            ValueCodec::new(None, 1 << 20),
            "rust".into(),
            8,
            1 << 26,
        ));
        let (sink, mut stream) = event_channel(1 << 26);
        let handle = Arc::new(InvocationHandle::default());
        let execute = pb::Execute {
            invocation_id: 1,
            execution_id: "e".into(),
            steps: vec![pb::Step {
                node_id: "t".into(),
                node_type: node_type.into(),
                attempt: 1,
                timeout_ms: 20,
                ..Default::default()
            }],
        };
        assert!(runtime.try_begin());
        let task = tokio::spawn(run_invocation(
            runtime.clone(),
            Arc::new(SessionState::default()),
            handle.clone(),
            sink,
            execute,
            nodes,
        ));
        let mut kinds = Vec::new();
        let mut failure = None;
        while failure.is_none() {
            let response = tokio::time::timeout(Duration::from_secs(10), stream.next())
                .await
                .expect("an event within 10 s")
                .expect("the stream stays open")
                .unwrap();
            for event in response.events {
                match event.kind {
                    Some(Kind::Started(_)) => kinds.push("started".to_owned()),
                    Some(Kind::Progress(progress)) => {
                        if progress.message == "ignoring the token" {
                            handle.cancel("the host's clock ran out".into(), 50);
                        }
                        kinds.push(progress.message);
                    }
                    Some(Kind::Failed(failed)) => {
                        kinds.push("failed".to_owned());
                        failure = failed.failure;
                    }
                    other => kinds.push(format!("{other:?}")),
                }
            }
        }
        task.await.unwrap();
        (kinds, failure.unwrap())
    }

    #[tokio::test]
    async fn a_timed_out_node_runs_its_cancellation_handling_before_the_timeout_is_reported() {
        let (kinds, failure) = run("test.tidy").await;
        assert_eq!(kinds, ["started", "cleaning up", "cleaned up", "failed"]);
        assert_eq!(failure.r#type, "timeout");
        assert!(failure.retryable);
        assert_eq!(
            failure.message,
            "node \"t\" (test.tidy) timed out after 20 ms"
        );
    }

    #[tokio::test]
    async fn a_timed_out_node_that_ignores_its_token_is_dropped_after_the_grace_of_the_hosts_cancel()
     {
        let (kinds, failure) = run("test.stubborn").await;
        assert_eq!(kinds, ["started", "ignoring the token", "failed"]);
        assert_eq!(failure.r#type, "timeout");
    }
}
