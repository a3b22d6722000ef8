//! Generates the runtime ABI's Rust types and server from the `.proto` files in `proto/`: in the repository a link
//! to its `proto/` folder, in the packaged crate (`cargo package`) a copy of the files, so a crate that depends on
//! this one by path or from a registry builds the same way.
//!
//! Because the machines that build Conductor have no `protoc`, the `.proto` files are parsed by `protox`, a
//! pure-Rust protobuf compiler, and the resulting descriptor set is handed to `tonic-prost-build`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("proto");
    let proto_file = proto_root.join("conductor/runtime/v1/runtime.proto");
    println!("cargo:rerun-if-changed={}", proto_file.display());

    let descriptors = protox::compile([&proto_file], [&proto_root])?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .build_transport(false)
        // Because every bytes field becomes `bytes::Bytes`, values are handed between steps and into events by
        // reference count instead of by copy.
        .bytes(".")
        .compile_fds(descriptors)?;
    Ok(())
}
