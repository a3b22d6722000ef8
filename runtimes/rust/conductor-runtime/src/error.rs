//! [`NodeError`], the one failure type a node returns, and its mapping to the wire `Failure`.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::fmt;
use std::time::Duration;

use serde::Serialize;

use crate::pb;

/// The type a [`NodeError`] made with [`NodeError::new`] gets unless [`NodeError::with_type`] changes it.
pub const DEFAULT_FAILURE_TYPE: &str = "node.failure";

/// A node's failure: data that crosses to the host as a `Failure`, never a transport error.
///
/// Return it from [`crate::Node::run`] to fail a step with a message, a type, a retryable flag and details of your
/// choice. Like `NodeFailure` in the TypeScript and Python SDKs, a failure made with [`NodeError::new`] is **not**
/// retryable unless [`NodeError::retryable`] says so: a failure a node reports on purpose is usually final. Any
/// other error converted with `?` (anything implementing [`std::error::Error`]) becomes a retryable failure of
/// type `error`, with its `source()` chain as the cause, because an unexpected error may be transient and the
/// node's retry policy bounds it (docs/protocol.md, section 3.3).
///
/// ```
/// use conductor_runtime::NodeError;
/// use std::time::Duration;
///
/// let final_failure = NodeError::new("no such customer").with_type("customer.unknown");
/// assert!(!final_failure.is_retryable());
///
/// let transient = NodeError::new("upstream answered 503")
///     .with_type("http.status")
///     .details(serde_json::json!({"status": 503}))
///     .retryable(true)
///     .retry_after(Duration::from_secs(2));
/// assert!(transient.is_retryable());
/// ```
///
/// `NodeError` does not implement [`std::error::Error`] itself; that is what lets every other error convert into it.
#[derive(Debug, Clone)]
pub struct NodeError {
    // Boxed, so that `Result<T, NodeError>` stays as small as `T` plus a pointer.
    inner: Box<Failure>,
}

#[derive(Debug, Clone)]
struct Failure {
    message: String,
    kind: String,
    retryable: bool,
    details: Option<serde_json::Value>,
    retry_delay: Option<Duration>,
    stack: String,
    cause: Option<Box<NodeError>>,
}

impl NodeError {
    /// A failure of type `node.failure` that is not retryable unless [`NodeError::retryable`] says so.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            inner: Box::new(Failure {
                message: message.into(),
                kind: DEFAULT_FAILURE_TYPE.to_owned(),
                retryable: false,
                details: None,
                retry_delay: None,
                stack: String::new(),
                cause: None,
            }),
        }
    }

    /// A failure that trying again cannot fix, of type `node.failure`: the same as [`NodeError::new`], for code
    /// that wants to say so.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(message).retryable(false)
    }

    /// A failure that trying again may fix, of type `node.failure`: [`NodeError::new`] with `retryable(true)`.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(message).retryable(true)
    }

    /// Wraps any error as a retryable failure of type `error`, keeping its `source()` chain as causes.
    pub fn from_error(error: &(dyn std::error::Error + 'static)) -> Self {
        // Because an unexpected error may be transient, it is retryable; the node's retry policy bounds it.
        let mut failure = Self::transient(error.to_string()).with_type("error");
        let backtrace = Backtrace::capture();
        if backtrace.status() == BacktraceStatus::Captured {
            failure.inner.stack = backtrace.to_string();
        }
        failure.inner.cause = error
            .source()
            .map(|source| Box::new(Self::from_error(source)));
        failure
    }

    /// Wraps a boxed error, such as the one a `Box<dyn Error>`-returning helper gives.
    pub fn from_boxed(error: Box<dyn std::error::Error + Send + Sync + 'static>) -> Self {
        Self::from_error(error.as_ref())
    }

    /// Sets the failure's type, a short classifier such as `http.status`.
    pub fn with_type(mut self, kind: impl Into<String>) -> Self {
        self.inner.kind = kind.into();
        self
    }

    /// Sets whether trying again may succeed.
    pub fn retryable(mut self, retryable: bool) -> Self {
        self.inner.retryable = retryable;
        self
    }

    /// Attaches structured details, sent to the host as JSON.
    pub fn details(mut self, details: impl Serialize) -> Self {
        self.inner.details = serde_json::to_value(details).ok();
        self
    }

    /// Suggests a delay before the next attempt.
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.inner.retry_delay = Some(delay);
        self
    }

    /// Records the failure that caused this one.
    pub fn caused_by(mut self, cause: impl Into<NodeError>) -> Self {
        self.inner.cause = Some(Box::new(cause.into()));
        self
    }

    /// Attaches a stack trace or other diagnostic text.
    pub fn stack(mut self, stack: impl Into<String>) -> Self {
        self.inner.stack = stack.into();
        self
    }

    /// The failure's message.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The failure's type.
    pub fn kind(&self) -> &str {
        &self.inner.kind
    }

    /// Whether trying again may succeed.
    pub fn is_retryable(&self) -> bool {
        self.inner.retryable
    }

    /// The cause, when there is one.
    pub fn cause(&self) -> Option<&NodeError> {
        self.inner.cause.as_deref()
    }

    pub(crate) fn failure(&self) -> pb::Failure {
        pb::Failure {
            message: self.inner.message.clone(),
            r#type: self.inner.kind.clone(),
            retryable: self.inner.retryable,
            details: self.inner.details.as_ref().map(|details| pb::Value {
                kind: Some(pb::value::Kind::Json(
                    serde_json::to_vec(details).unwrap_or_default().into(),
                )),
            }),
            stack: self.inner.stack.clone(),
            cause: self
                .inner
                .cause
                .as_ref()
                .map(|cause| Box::new(cause.failure())),
            retry_delay_ms: self.inner.retry_delay.map_or(0, |delay| {
                u32::try_from(delay.as_millis()).unwrap_or(u32::MAX)
            }),
            // The host knows which step failed and records the node itself.
            node_id: String::new(),
        }
    }
}

impl fmt::Display for NodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.inner.message, self.inner.kind)
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for NodeError {
    fn from(error: E) -> Self {
        Self::from_error(&error)
    }
}

/// Failures the runtime itself reports, with the types docs/protocol.md names.
pub(crate) mod failures {
    use super::NodeError;

    pub(crate) fn input_invalid(message: String) -> NodeError {
        NodeError::permanent(message).with_type("input.invalid")
    }

    pub(crate) fn config_invalid(message: String) -> NodeError {
        NodeError::permanent(message).with_type("config.invalid")
    }

    pub(crate) fn output_invalid(message: String) -> NodeError {
        NodeError::permanent(message).with_type("output.invalid")
    }

    pub(crate) fn blob_corrupt(message: String) -> NodeError {
        NodeError::permanent(message).with_type("blob.corrupt")
    }

    pub(crate) fn timeout(message: String) -> NodeError {
        NodeError::transient(message).with_type("timeout")
    }

    pub(crate) fn panic(message: String) -> NodeError {
        NodeError::permanent(message).with_type("panic")
    }

    pub(crate) fn unknown_node_type(node_type: &str) -> NodeError {
        NodeError::permanent(format!(
            "unknown node type \"{node_type}\"; this runtime does not serve it"
        ))
        .with_type("node-type.unknown")
    }

    pub(crate) fn step_invalid(message: String) -> NodeError {
        NodeError::permanent(message).with_type("step.invalid")
    }

    pub(crate) fn busy(message: String) -> NodeError {
        NodeError::transient(message).with_type("runtime.busy")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Broken;

    impl fmt::Display for Broken {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("it broke")
        }
    }

    impl std::error::Error for Broken {}

    #[test]
    fn a_node_error_is_not_retryable_unless_it_says_so() {
        let failure = NodeError::new("no such customer").failure();
        assert!(!failure.retryable);
        assert_eq!(failure.r#type, DEFAULT_FAILURE_TYPE);
        assert!(NodeError::new("again").retryable(true).failure().retryable);
        assert!(NodeError::transient("again").failure().retryable);
        assert!(!NodeError::permanent("never").failure().retryable);
    }

    #[test]
    fn an_ordinary_error_becomes_a_retryable_failure_of_type_error() {
        let failure = NodeError::from(Broken).failure();
        assert!(failure.retryable);
        assert_eq!(failure.r#type, "error");
        assert_eq!(failure.message, "it broke");
    }

    #[test]
    fn timeouts_and_a_busy_runtime_are_retryable() {
        assert!(failures::timeout("late".into()).failure().retryable);
        assert!(failures::busy("full".into()).failure().retryable);
        assert!(!failures::input_invalid("bad".into()).failure().retryable);
    }
}
