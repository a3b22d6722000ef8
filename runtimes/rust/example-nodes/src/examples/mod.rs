//! Example high-performance nodes: `rs.hash`, `rs.crc32`, `rs.regex-extract`, `rs.stats`, `rs.add-one`,
//! `rs.traced` and `rs.scale-batches` (a stream of Arrow batches in, one out).

mod add_one;
mod crc32;
mod hash;
mod regex_extract;
mod scale_batches;
mod stats;
mod traced;

pub(crate) use scale_batches::scale_table;

use conductor_runtime::Registry;

/// The registry of the example runtime.
pub fn registry() -> Registry {
    Registry::new()
        .version(env!("CARGO_PKG_VERSION"))
        .node(hash::Sha256Node)
        .node(crc32::Crc32Node)
        .node(regex_extract::RegexExtract::default())
        .node(stats::Stats)
        .node(add_one::AddOne)
        .node(traced::Traced)
        .node(scale_batches::ScaleBatches)
}
