//! `kaban`: the officer's command line. Holds signer keys locally and talks HTTP to a node.
//!
//! The commands arrive with the node; today the binary only reports which record format it signs.

fn main() {
    println!(
        "kaban {} (record format v{}); commands are not built yet",
        env!("CARGO_PKG_VERSION"),
        kaban_protocol::record::RECORD_VERSION
    );
}
