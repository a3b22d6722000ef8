//! Example high-performance nodes: `rs.hash`, `rs.crc32`, `rs.regex-extract`, `rs.stats`, `rs.add-one` and
//! `rs.traced`.

mod add_one;
mod crc32;
mod hash;
mod regex_extract;
mod stats;
mod traced;

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
}
