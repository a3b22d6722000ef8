//! [`serve`]: the life of a runtime process (docs/protocol.md, section 1).

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use tokio::net::{UnixListener, UnixStream};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Server;
use tonic::{Request, Status};
use tracing_subscriber::layer::SubscriberExt;

use crate::host_env::HostEnv;
use crate::log_layer::StepLogLayer;
use crate::pb::runtime_service_server::RuntimeServiceServer;
use crate::registry::Registry;
use crate::service::{ABI_VERSION, Service};
use crate::state::RuntimeState;
use crate::wire::ValueCodec;

/// Why [`serve`] could not start.
pub struct ServeError {
    message: String,
}

impl ServeError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

// Because `main` prints a returned error with `Debug`, it shows the message as it is.
impl fmt::Debug for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ServeError {}

/// How long a `Shutdown` waits for open connections to close before the process exits anyway.
const SHUTDOWN_LINGER: Duration = Duration::from_millis(200);

/// h2 flow-control windows. Because the defaults (64 KiB) make a large value wait for window updates, the
/// windows are sized for values up to the inline limit.
const STREAM_WINDOW: u32 = 8 << 20;
const CONNECTION_WINDOW: u32 = 16 << 20;

/// Serves `registry` to the Conductor host: call it from `main` inside a Tokio runtime.
///
/// It checks `CONDUCTOR_COOKIE` (a process started by hand prints what it is to stderr and exits with status 2),
/// binds a Unix socket in `CONDUCTOR_SOCKET_DIR`, writes the handshake line to stdout and from then on sends
/// stdout to stderr, so that `println!` cannot corrupt the protocol. It answers every RPC of the runtime ABI and
/// exits the process with status 0 when stdin reaches end-of-file or after answering `Shutdown`, so it returns
/// only when it cannot start.
///
/// It installs [`StepLogLayer`] as the global `tracing` subscriber unless one is already set.
pub async fn serve(registry: Registry) -> Result<std::convert::Infallible, ServeError> {
    if !HostEnv::has_cookie() {
        eprintln!("{}", started_by_hand(&registry));
        std::process::exit(2);
    }
    let env = match HostEnv::read() {
        Ok(env) => env,
        // A variable of docs/protocol.md §1.1 missing or malformed: the one who started us must act, as for a
        // missing cookie, so the same status 2.
        Err(error) => {
            eprintln!("conductor-runtime: {error}");
            std::process::exit(2);
        }
    };
    let _ = tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(StepLogLayer::from_env()),
    );

    let max_concurrency = env
        .max_concurrency
        .unwrap_or(registry.max_concurrency)
        .max(1);
    let runtime = Arc::new(RuntimeState::new(
        registry,
        ValueCodec::new(env.blob_dir.clone(), env.inline_limit),
        env.runtime_name.clone(),
        max_concurrency as usize,
        env.max_message_bytes,
    ));

    let socket_path = socket_path(&env)?;
    let _ = std::fs::remove_file(&socket_path);
    let listener = UnixListener::bind(&socket_path).map_err(|error| {
        ServeError::new(format!(
            "cannot listen on {}: {error}",
            socket_path.display()
        ))
    })?;
    watch_stdin(socket_path.clone());
    write_handshake_line(&env, &runtime, &socket_path)?;

    let token: Arc<str> = env.token.into();
    let check_token = move |request: Request<()>| -> Result<Request<()>, Status> {
        match request.metadata().get("conductor-token") {
            Some(value) if value.as_bytes() == token.as_bytes() => Ok(request),
            _ => Err(Status::unauthenticated("missing or wrong conductor-token")),
        }
    };
    let limit = env.max_message_bytes;
    let service = RuntimeServiceServer::new(Service {
        runtime: runtime.clone(),
    })
    .max_decoding_message_size(limit)
    .max_encoding_message_size(limit);
    let service = InterceptedService::new(service, check_token);

    let shutdown = runtime.shutdown.clone();
    let server = Server::builder()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .serve_with_incoming_shutdown(
            service,
            Incoming(listener),
            shutdown.clone().cancelled_owned(),
        );
    tokio::select! {
        result = server => {
            if let Err(error) = result {
                let _ = std::fs::remove_file(&socket_path);
                return Err(ServeError::new(format!("the gRPC server stopped: {error}")));
            }
        }
        () = async {
            shutdown.cancelled().await;
            tokio::time::sleep(SHUTDOWN_LINGER).await;
        } => {}
    }
    let _ = std::fs::remove_file(&socket_path);
    #[cfg(feature = "telemetry")]
    crate::telemetry::flush();
    std::process::exit(0);
}

fn started_by_hand(registry: &Registry) -> String {
    let program = std::env::args()
        .next()
        .as_deref()
        .map(Path::new)
        .and_then(Path::file_name)
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "conductor-runtime".to_owned());
    format!(
        "this is the Conductor rust runtime ({program} {}); it is started by the Conductor host,\n\
         not by hand: run `conductor run <blueprint>`. To attach a debugger, see CONDUCTOR_REATTACH in docs/protocol.md.",
        registry.version
    )
}

/// Longest Unix socket path Linux accepts (`sun_path` is 108 bytes with the terminating zero).
const MAX_SOCKET_PATH: usize = 107;

fn socket_path(env: &HostEnv) -> Result<PathBuf, ServeError> {
    let name: String = env
        .runtime_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let dir = std::path::absolute(&env.socket_dir).map_err(|error| {
        ServeError::new(format!(
            "CONDUCTOR_SOCKET_DIR {} is unusable: {error}",
            env.socket_dir.display()
        ))
    })?;
    let path = dir.join(format!("{name}.sock"));
    if path.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(ServeError::new(format!(
            "socket path {} is {} bytes long, the limit is {MAX_SOCKET_PATH}; use a shorter CONDUCTOR_SOCKET_DIR",
            path.display(),
            path.as_os_str().len()
        )));
    }
    Ok(path)
}

/// Writes the one handshake line, then points file descriptor 1 at stderr for the rest of the process's life.
fn write_handshake_line(
    env: &HostEnv,
    runtime: &RuntimeState,
    socket_path: &Path,
) -> Result<(), ServeError> {
    // The highest ABI both sides speak; with none in common, this runtime's own, so that the host reports the
    // mismatch with both numbers.
    let abi = env
        .abi_versions
        .iter()
        .copied()
        .filter(|&version| version == ABI_VERSION)
        .max()
        .unwrap_or(ABI_VERSION);
    let line = serde_json::json!({
        "conductor": 1,
        "abi": abi,
        "network": "unix",
        "address": socket_path.to_string_lossy(),
        "pid": std::process::id(),
        "runtime": runtime.name,
        "version": runtime.registry.version,
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|error| ServeError::new(format!("cannot write the handshake line: {error}")))?;
    // SAFETY: dup2 on two descriptors this process owns; it only changes where fd 1 points.
    unsafe {
        libc::dup2(libc::STDERR_FILENO, libc::STDOUT_FILENO);
    }
    Ok(())
}

/// Exits the process when stdin reaches end-of-file: the host keeps it open for the runtime's whole life, so EOF
/// means the host is gone or done with it. A plain thread, because a blocking read must not hold up the async runtime.
fn watch_stdin(socket_path: PathBuf) {
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buffer = [0u8; 512];
        loop {
            match stdin.read(&mut buffer) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = std::fs::remove_file(&socket_path);
        // The host closes stdin right after `Shutdown` is answered, often before the server's linger ends: the
        // spans not yet exported are sent here too, or they would be lost.
        #[cfg(feature = "telemetry")]
        crate::telemetry::flush();
        std::process::exit(0);
    });
}

/// Accepted connections of the Unix socket, as the stream tonic serves.
struct Incoming(UnixListener);

impl Stream for Incoming {
    type Item = std::io::Result<UnixStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0
            .poll_accept(cx)
            .map(|accepted| Some(accepted.map(|(stream, _)| stream)))
    }
}
