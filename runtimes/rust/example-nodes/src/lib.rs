//! Example Rust nodes for Conductor and the conformance kitchen sink of docs/protocol.md, section 5.
//!
//! Two binaries serve them: `conductor-example-runtime` ([`example_registry`]) and
//! `conductor-conformance-runtime` ([`conformance_registry`]).

mod conformance;
mod examples;

pub use conformance::registry as conformance_registry;
pub use examples::registry as example_registry;
