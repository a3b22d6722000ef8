//! Integration tests: the runtime binaries, spawned as real child processes with the documented environment and
//! driven over their Unix socket with a tonic client, as the host drives them.
//!
//! One test target, because every test binary of a release build is linked with thin LTO, which dominates the
//! time `cargo test --release` takes.

mod common;
mod conformance;
mod examples;
mod streams;
