//! The environment the host starts a runtime with (docs/protocol.md, section 1.1).

use std::path::PathBuf;

use crate::ServeError;

/// The value of `CONDUCTOR_COOKIE` that says the host started this process. Not a secret.
pub(crate) const COOKIE: &str = "conductor-runtime-7f3c9a1e";

const DEFAULT_INLINE_LIMIT: usize = 1_048_576;
const DEFAULT_MAX_MESSAGE_BYTES: usize = 67_108_864;

#[derive(Debug)]
pub(crate) struct HostEnv {
    pub(crate) abi_versions: Vec<u32>,
    pub(crate) socket_dir: PathBuf,
    pub(crate) token: String,
    pub(crate) runtime_name: String,
    pub(crate) blob_dir: Option<PathBuf>,
    pub(crate) inline_limit: usize,
    pub(crate) max_message_bytes: usize,
    pub(crate) max_concurrency: Option<u32>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T, ServeError> {
    match var(name) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| {
            ServeError::new(format!("{name} must be a whole number, found \"{text}\""))
        }),
    }
}

impl HostEnv {
    /// Whether a host started this process.
    pub(crate) fn has_cookie() -> bool {
        var("CONDUCTOR_COOKIE").as_deref() == Some(COOKIE)
    }

    pub(crate) fn read() -> Result<Self, ServeError> {
        let required = |name: &str| {
            var(name).ok_or_else(|| {
                ServeError::new(format!(
                    "{name} is not set; the Conductor host sets it when it starts a runtime"
                ))
            })
        };
        let abi_versions = var("CONDUCTOR_ABI_VERSIONS")
            .unwrap_or_else(|| "1".to_owned())
            .split(',')
            .filter_map(|version| version.trim().parse().ok())
            .collect();
        Ok(Self {
            abi_versions,
            socket_dir: required("CONDUCTOR_SOCKET_DIR")?.into(),
            token: required("CONDUCTOR_TOKEN")?,
            runtime_name: var("CONDUCTOR_RUNTIME_NAME").unwrap_or_else(|| "rust".to_owned()),
            blob_dir: var("CONDUCTOR_BLOB_DIR").map(PathBuf::from),
            inline_limit: number("CONDUCTOR_INLINE_LIMIT", DEFAULT_INLINE_LIMIT)?,
            max_message_bytes: number("CONDUCTOR_MAX_MESSAGE_BYTES", DEFAULT_MAX_MESSAGE_BYTES)?,
            max_concurrency: var("CONDUCTOR_MAX_CONCURRENCY")
                .map(|_| number("CONDUCTOR_MAX_CONCURRENCY", 0u32))
                .transpose()?,
        })
    }
}
