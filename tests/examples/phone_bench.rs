//! Cheap-phone benchmark of the web client: starts a real node and runs
//! `clients/web/bench/cheap_phone.mjs` in Chromium with its CPU slowed 6 times, 400 ms round
//! trips and 50 KB/s. Prints figures; nothing is asserted on time.
//!
//! Run with `cargo run --release -p kaban-tests --example phone_bench`. Installs what the phone
//! tests need (the web client's npm packages, Chromium) like they do. `KABAN_BENCH_RUNS=5` sets the runs.

#![allow(clippy::unwrap_used)]

use kaban_tests::{NodeProcess, bin_dir};
use std::process::Command;

fn main() {
    let web = kaban_tests::machine::web_client();
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&dir.path().join("node"));
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let status = Command::new("node")
        .arg("bench/cheap_phone.mjs")
        .current_dir(&web)
        .env("KABAN_NODE", &node.url)
        .env("KABAN_ADMIN_TOKEN", node.data_dir.join("admin-token"))
        .env("KABAN_BIN", bin_dir().join("kaban"))
        .env("KABAN_WORK", &work)
        .env("CHROMIUM", kaban_tests::machine::chromium())
        .status()
        .expect("node runs (the web client needs Node.js 20 or later)");
    assert!(status.success(), "the cheap-phone benchmark failed");
}
