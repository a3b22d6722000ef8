//! A small host for the integration tests: spawns a runtime binary with the documented environment, reads its
//! handshake line and drives it over its Unix socket with a tonic client, as the Conductor host does.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    missing_debug_implementations
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;
use tonic::codegen::InterceptedService;
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status, Streaming};

pub mod pb {
    #![allow(clippy::all, clippy::pedantic)]
    tonic::include_proto!("conductor.runtime.v1");
}

pub use pb::event::Kind;

pub const COOKIE: &str = "conductor-runtime-7f3c9a1e";
pub const CONFORMANCE: &str = env!("CARGO_BIN_EXE_conductor-conformance-runtime");
pub const EXAMPLES: &str = env!("CARGO_BIN_EXE_conductor-example-runtime");
const WAIT: Duration = Duration::from_secs(20);

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary directory (mode 0700) removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "cdr-{label}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).unwrap();
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The environment a host would give, plus overrides.
pub fn host_env(dir: &Path, token: &str) -> HashMap<String, String> {
    let blobs = dir.join("blobs");
    std::fs::create_dir_all(&blobs).unwrap();
    HashMap::from([
        ("CONDUCTOR_COOKIE".into(), COOKIE.into()),
        ("CONDUCTOR_ABI_VERSIONS".into(), "1".into()),
        ("CONDUCTOR_SOCKET_DIR".into(), dir.display().to_string()),
        ("CONDUCTOR_TOKEN".into(), token.into()),
        ("CONDUCTOR_RUNTIME_NAME".into(), "rust".into()),
        ("CONDUCTOR_BLOB_DIR".into(), blobs.display().to_string()),
    ])
}

#[derive(Clone)]
pub struct Token(pub String);

impl Interceptor for Token {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if !self.0.is_empty() {
            request.metadata_mut().insert(
                "conductor-token",
                MetadataValue::try_from(self.0.as_str()).unwrap(),
            );
        }
        Ok(request)
    }
}

pub type Client =
    pb::runtime_service_client::RuntimeServiceClient<InterceptedService<Channel, Token>>;

/// A runtime process started by the test, killed on drop.
pub struct Runtime {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub stdout: BufReader<ChildStdout>,
    pub stderr: Arc<Mutex<String>>,
    pub line: serde_json::Value,
    pub token: String,
    pub dir: TempDir,
}

impl Runtime {
    pub async fn start(binary: &str) -> Self {
        Self::start_with(binary, &[]).await
    }

    pub async fn start_with(binary: &str, overrides: &[(&str, &str)]) -> Self {
        let dir = TempDir::new("rt");
        let token = format!("token-{}", COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut env = host_env(&dir.0, &token);
        for (name, value) in overrides {
            env.insert((*name).to_owned(), (*value).to_owned());
        }
        let mut child = Command::new(binary)
            .env_clear()
            .envs(env)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut stderr_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut buffer = [0u8; 4096];
            while let Ok(read) = stderr_pipe.read(&mut buffer).await {
                if read == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buffer[..read]));
            }
        });
        let mut line = String::new();
        tokio::time::timeout(WAIT, stdout.read_line(&mut line))
            .await
            .expect("no handshake line in time")
            .unwrap();
        let line: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("handshake line is not JSON: {line:?}"));
        Self {
            child,
            stdin,
            stdout,
            stderr,
            line,
            token,
            dir,
        }
    }

    pub fn address(&self) -> PathBuf {
        PathBuf::from(self.line["address"].as_str().unwrap())
    }

    pub async fn client(&self) -> Client {
        self.client_with_token(&self.token.clone()).await
    }

    pub async fn client_with_token(&self, token: &str) -> Client {
        let channel = connect(self.address()).await;
        pb::runtime_service_client::RuntimeServiceClient::with_interceptor(
            channel,
            Token(token.to_owned()),
        )
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
    }

    pub async fn wait_exit(&mut self) -> i32 {
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the runtime did not exit in time")
            .unwrap()
            .code()
            .unwrap_or(-1)
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

pub async fn connect(path: PathBuf) -> Channel {
    Endpoint::try_from("http://runtime.local")
        .unwrap()
        .connect_with_connector(tower::service_fn(move |_| {
            let path = path.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(path).await?)) }
        }))
        .await
        .unwrap()
}

/// One open session: send commands, read events.
pub struct Session {
    pub commands: mpsc::UnboundedSender<pb::SessionRequest>,
    pub events: Streaming<pb::SessionResponse>,
    pub pending: std::collections::VecDeque<pb::Event>,
    pub responses: usize,
}

impl Session {
    pub async fn open(client: &mut Client) -> Self {
        let (commands, receiver) = mpsc::unbounded_channel();
        let stream = futures_stream(receiver);
        let events = client.session(stream).await.unwrap().into_inner();
        Self {
            commands,
            events,
            pending: Default::default(),
            responses: 0,
        }
    }

    pub fn execute(&self, invocation_id: u64, steps: Vec<pb::Step>) {
        self.send(pb::command::Kind::Execute(pb::Execute {
            invocation_id,
            execution_id: format!("execution-{invocation_id}"),
            steps,
        }));
    }

    pub fn cancel(&self, invocation_id: u64, reason: &str) {
        self.send(pb::command::Kind::Cancel(pb::Cancel {
            invocation_id,
            reason: reason.to_owned(),
            grace_ms: 2000,
        }));
    }

    pub fn send(&self, kind: pb::command::Kind) {
        self.send_all(vec![kind]);
    }

    /// Sends several commands in one `SessionRequest`.
    pub fn send_all(&self, kinds: Vec<pb::command::Kind>) {
        self.commands
            .send(pb::SessionRequest {
                commands: kinds
                    .into_iter()
                    .map(|kind| pb::Command { kind: Some(kind) })
                    .collect(),
            })
            .unwrap();
    }

    /// Starts a one-step invocation and, in the same request, grants `credits` items on each of its stream outputs
    /// `ports`, as the host does.
    pub fn execute_with_credits(
        &self,
        invocation_id: u64,
        step: pb::Step,
        ports: &[&str],
        credits: u32,
    ) {
        let mut kinds = vec![pb::command::Kind::Execute(pb::Execute {
            invocation_id,
            execution_id: format!("execution-{invocation_id}"),
            steps: vec![step],
        })];
        kinds.extend(
            ports
                .iter()
                .map(|port| credit(invocation_id, port, credits)),
        );
        self.send_all(kinds);
    }

    /// Sends items (and the end, or a failure) of stream input `port` of step 0 of `invocation_id`.
    pub fn stream_items(
        &self,
        invocation_id: u64,
        port: &str,
        items: Vec<pb::Value>,
        end: bool,
        failure: Option<pb::Failure>,
    ) {
        self.send(pb::command::Kind::StreamItems(pb::StreamItems {
            invocation_id,
            step: 0,
            port: port.to_owned(),
            items,
            end,
            failure,
        }));
    }

    pub async fn next_event(&mut self) -> pb::Event {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return event;
            }
            let response = tokio::time::timeout(WAIT, self.events.message())
                .await
                .expect("no event in time")
                .unwrap()
                .expect("the session ended");
            self.responses += 1;
            self.pending.extend(response.events);
        }
    }

    /// Reads events until `invocation_id` ends; events of other invocations are kept for later.
    pub async fn finish(&mut self, invocation_id: u64) -> Vec<pb::Event> {
        let mut mine = Vec::new();
        let mut others = Vec::new();
        loop {
            let event = self.next_event().await;
            if event.invocation_id != invocation_id {
                others.push(event);
                continue;
            }
            let ends = ends_invocation(&event);
            mine.push(event);
            if ends {
                break;
            }
        }
        for event in others.into_iter().rev() {
            self.pending.push_front(event);
        }
        mine
    }
}

/// Whether an event is the last one of its invocation (a terminal event of a step with nothing after it, as the
/// tests only look at the terminal events of single-step invocations or failure/cancel/rejection).
pub fn ends_invocation(event: &pb::Event) -> bool {
    matches!(
        event.kind,
        Some(Kind::Failed(_) | Kind::Cancelled(_) | Kind::Rejected(_))
    )
}

fn futures_stream(
    receiver: mpsc::UnboundedReceiver<pb::SessionRequest>,
) -> impl tonic::codegen::tokio_stream::Stream<Item = pb::SessionRequest> + Send + 'static {
    struct Receiver(mpsc::UnboundedReceiver<pb::SessionRequest>);
    impl tonic::codegen::tokio_stream::Stream for Receiver {
        type Item = pb::SessionRequest;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            self.0.poll_recv(cx)
        }
    }
    Receiver(receiver)
}

/// A `Credit` command for stream output `port` of step 0.
pub fn credit(invocation_id: u64, port: &str, credits: u32) -> pb::command::Kind {
    pb::command::Kind::Credit(pb::Credit {
        invocation_id,
        step: 0,
        port: port.to_owned(),
        credits,
    })
}

/// A stream input fed by `producer.port`.
pub fn stream_input(producer: &str, port: &str) -> pb::Input {
    pb::Input {
        source: Some(pb::input::Source::Stream(pb::StreamSource {
            node_id: producer.to_owned(),
            port: port.to_owned(),
        })),
    }
}

pub fn json(text: &str) -> pb::Value {
    pb::Value {
        kind: Some(pb::value::Kind::Json(bytes::Bytes::copy_from_slice(
            text.as_bytes(),
        ))),
    }
}

pub fn raw(data: &[u8]) -> pb::Value {
    pb::Value {
        kind: Some(pb::value::Kind::Raw(bytes::Bytes::copy_from_slice(data))),
    }
}

pub fn value_input(value: pb::Value) -> pb::Input {
    pb::Input {
        source: Some(pb::input::Source::Value(value)),
    }
}

pub fn step_input(step: u32, port: &str) -> pb::Input {
    pb::Input {
        source: Some(pb::input::Source::StepOutput(pb::StepOutput {
            step,
            port: port.to_owned(),
        })),
    }
}

/// A step of `node_type` with a JSON config and inputs.
pub fn step(node_type: &str, config: &str, inputs: Vec<(&str, pb::Input)>) -> pb::Step {
    pb::Step {
        node_id: node_type.rsplit('.').next().unwrap().to_owned(),
        node_type: node_type.to_owned(),
        attempt: 1,
        config: Some(json(config)),
        inputs: inputs
            .into_iter()
            .map(|(name, input)| (name.to_owned(), input))
            .collect(),
        timeout_ms: 0,
        traceparent: String::new(),
        tracestate: String::new(),
        resume: Vec::new(),
    }
}

/// The outputs of the last `completed` event.
pub fn completed_outputs(events: &[pb::Event]) -> HashMap<String, pb::Value> {
    events
        .iter()
        .rev()
        .find_map(|event| match &event.kind {
            Some(Kind::Completed(completed)) => Some(completed.outputs.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no completed event in {events:?}"))
}

pub fn failure(events: &[pb::Event]) -> pb::Failure {
    events
        .iter()
        .find_map(|event| match &event.kind {
            Some(Kind::Failed(failed)) => failed.failure.clone(),
            Some(Kind::Rejected(rejected)) => rejected.failure.clone(),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no failure in {events:?}"))
}

pub fn as_json(value: &pb::Value) -> serde_json::Value {
    match &value.kind {
        Some(pb::value::Kind::Json(text)) => serde_json::from_slice(text).unwrap(),
        other => panic!("expected JSON, got {other:?}"),
    }
}

/// Runs one single-step invocation on a fresh session and returns its events.
pub async fn run_one(client: &mut Client, step: pb::Step) -> Vec<pb::Event> {
    let mut session = Session::open(client).await;
    session.execute(1, vec![step]);
    let mut events = Vec::new();
    loop {
        let event = session.next_event().await;
        let done = matches!(
            event.kind,
            Some(Kind::Completed(_) | Kind::Failed(_) | Kind::Cancelled(_) | Kind::Rejected(_))
        );
        events.push(event);
        if done {
            return events;
        }
    }
}

pub fn kinds(events: &[pb::Event]) -> Vec<&'static str> {
    events
        .iter()
        .map(|event| match event.kind {
            Some(Kind::Started(_)) => "started",
            Some(Kind::Log(_)) => "log",
            Some(Kind::Progress(_)) => "progress",
            Some(Kind::Chunk(_)) => "chunk",
            Some(Kind::Heartbeat(_)) => "heartbeat",
            Some(Kind::Completed(_)) => "completed",
            Some(Kind::Failed(_)) => "failed",
            Some(Kind::Cancelled(_)) => "cancelled",
            Some(Kind::Rejected(_)) => "rejected",
            Some(Kind::Credit(_)) => "credit",
            Some(Kind::Checkpoint(_)) => "checkpoint",
            None => "none",
        })
        .collect()
}
