//! The gRPC `RuntimeService`: the unary control plane and the `Session` entry point.

use std::sync::Arc;
use std::time::Duration;

use tonic::{Request, Response, Status, Streaming};

use crate::events::{EventStream, event_channel};
use crate::pb;
use crate::pb::runtime_service_server::RuntimeService;
use crate::session::read_commands;
use crate::state::RuntimeState;

/// The ABI major version this runtime implements.
pub(crate) const ABI_VERSION: u32 = 1;

/// The optional features of docs/protocol.md this runtime supports.
pub(crate) const FEATURES: [&str; 5] = [
    "session.steps",
    "values.arrow",
    "values.blob",
    "stream.credits",
    "stream.checkpoints",
];

/// The language reported in `RuntimeInfo`.
pub(crate) const LANGUAGE: &str = "rust";

#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub(crate) runtime: Arc<RuntimeState>,
}

#[tonic::async_trait]
impl RuntimeService for Service {
    async fn handshake(
        &self,
        _request: Request<pb::HandshakeRequest>,
    ) -> Result<Response<pb::HandshakeResponse>, Status> {
        // Version 1 is the only one this runtime speaks: when the host offers none it supports, answering 1 lets
        // the host report the mismatch with both numbers.
        let runtime = &self.runtime;
        Ok(Response::new(pb::HandshakeResponse {
            abi_version: ABI_VERSION,
            runtime: Some(pb::RuntimeInfo {
                name: runtime.name.clone(),
                language: LANGUAGE.to_owned(),
                version: runtime.registry.version.clone(),
                pid: std::process::id(),
            }),
            features: FEATURES.iter().map(|&feature| feature.to_owned()).collect(),
            max_concurrency: u32::try_from(runtime.max_concurrency).unwrap_or(u32::MAX),
            max_message_bytes: runtime.max_message_bytes as u64,
            schema_hash: runtime.schema_hash.clone(),
        }))
    }

    async fn list_node_types(
        &self,
        _request: Request<pb::ListNodeTypesRequest>,
    ) -> Result<Response<pb::ListNodeTypesResponse>, Status> {
        Ok(Response::new(self.runtime.node_types.clone()))
    }

    async fn validate_config(
        &self,
        request: Request<pb::ValidateConfigRequest>,
    ) -> Result<Response<pb::ValidateConfigResponse>, Status> {
        let request = request.into_inner();
        let Some(node) = self.runtime.registry.get(&request.node_type) else {
            // A diagnostic, not an error status: the host shows it under the node's config like any other.
            let mut served: Vec<&str> = self
                .runtime
                .node_types
                .node_types
                .iter()
                .map(|node_type| node_type.r#type.as_str())
                .collect();
            served.sort_unstable();
            return Ok(Response::new(pb::ValidateConfigResponse {
                diagnostics: vec![pb::Diagnostic {
                    severity: pb::diagnostic::Severity::Error as i32,
                    message: format!(
                        "unknown node type \"{}\"; runtime \"{}\" serves: {}",
                        request.node_type,
                        self.runtime.name,
                        served.join(", ")
                    ),
                    path: String::new(),
                    expected: String::new(),
                    found: request.node_type,
                }],
            }));
        };
        let diagnostics = node
            .validate_config(request.config.as_ref())
            .iter()
            .map(|issue| issue.diagnostic())
            .collect();
        Ok(Response::new(pb::ValidateConfigResponse { diagnostics }))
    }

    type SessionStream = EventStream;

    async fn session(
        &self,
        request: Request<Streaming<pb::SessionRequest>>,
    ) -> Result<Response<EventStream>, Status> {
        let (sink, stream) = event_channel(self.runtime.max_message_bytes);
        tokio::spawn(read_commands(
            self.runtime.clone(),
            request.into_inner(),
            sink,
        ));
        Ok(Response::new(stream))
    }

    async fn drain(
        &self,
        request: Request<pb::DrainRequest>,
    ) -> Result<Response<pb::DrainResponse>, Status> {
        let grace = Duration::from_millis(u64::from(request.into_inner().grace_ms));
        let unfinished = self.runtime.drain(grace).await;
        Ok(Response::new(pb::DrainResponse {
            unfinished: u32::try_from(unfinished).unwrap_or(u32::MAX),
        }))
    }

    async fn shutdown(
        &self,
        _request: Request<pb::ShutdownRequest>,
    ) -> Result<Response<pb::ShutdownResponse>, Status> {
        self.runtime.shutdown.cancel();
        Ok(Response::new(pb::ShutdownResponse {}))
    }
}
