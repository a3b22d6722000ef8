//! `conductor-example-runtime`: serves the example nodes (`rs.hash`, `rs.regex-extract`, `rs.stats`,
//! `rs.add-one`) to the Conductor host.

#[tokio::main(worker_threads = 2)]
async fn main() -> Result<(), conductor_runtime::ServeError> {
    conductor_runtime::serve(conductor_example_nodes::example_registry()).await?;
    Ok(())
}
