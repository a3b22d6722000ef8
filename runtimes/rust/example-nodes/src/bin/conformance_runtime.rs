//! `conductor-conformance-runtime`: serves the conformance kitchen sink of docs/protocol.md, section 5.

#[tokio::main(worker_threads = 2)]
async fn main() -> Result<(), conductor_runtime::ServeError> {
    conductor_runtime::serve(conductor_example_nodes::conformance_registry()).await?;
    Ok(())
}
