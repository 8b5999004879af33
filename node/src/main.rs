//! `kaban-node`: the process that keeps a savings group's books.
//!
//! Storage, the HTTP API and peer-to-peer sync arrive in later steps; today the binary only
//! reports which protocol version it speaks, so that the workspace builds end to end.

fn main() {
    println!(
        "kaban-node {} (record format v{}); the node service is not built yet",
        env!("CARGO_PKG_VERSION"),
        kaban_protocol::record::RECORD_VERSION
    );
}
