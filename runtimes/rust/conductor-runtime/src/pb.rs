//! The runtime ABI's wire types and gRPC server, generated from `proto/conductor/runtime/v1/runtime.proto` by
//! `build.rs`. Private: the crate maps them to its own types.

#![allow(missing_docs, unreachable_pub, missing_debug_implementations)]
#![allow(clippy::all, clippy::pedantic)]

tonic::include_proto!("conductor.runtime.v1");
