//! The web client's protocol core (JavaScript, in `clients/web`) signs and verifies records
//! byte for byte like the Rust crate: its own suite checks every vector in
//! `protocol/vectors/records.json`. This runs that suite, so `cargo test --workspace` covers
//! both sides of the agreement.

#![allow(clippy::unwrap_used)]

use std::process::Command;

#[test]
fn the_web_clients_protocol_core_agrees_with_the_vectors() {
    let web = kaban_tests::machine::web_client();
    let out = Command::new("npm")
        .args(["test", "--silent"])
        .current_dir(&web)
        .output()
        .expect("npm runs (the web client's tests need Node.js 20 or later)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the web client's tests failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The suite reports how many vectors it checked; none may be skipped silently.
    let vectors: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(web.join("../../protocol/vectors/records.json")).unwrap(),
    )
    .unwrap();
    let count = |list: &str| {
        [&vectors, &vectors["enterprise"]]
            .iter()
            .map(|set| set[list].as_array().unwrap().len())
            .sum::<usize>()
    };
    let expected = format!(
        "vectors checked: {} valid, {} invalid",
        count("valid"),
        count("invalid")
    );
    assert!(
        stdout.contains(&expected),
        "expected {expected:?} in:\n{stdout}"
    );
}
