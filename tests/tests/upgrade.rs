//! Upgrading a node: a data directory written at schema version 3 (the release before
//! migration 0004, kept as `tests/fixtures/schema-v3`, made by the `schema_v3_fixture`
//! example) is migrated when today's node starts on it, and then serves every view of the
//! group's book exactly as a fresh node serves the same records, keeps Ana's personal data,
//! takes new records, and backs up (which needs what 0004 added).

#![allow(clippy::unwrap_used)]

use kaban_tests::fixture::{UPGRADE_PERSONAL, upgrade_book};
use kaban_tests::{Http, NodeProcess, bin_dir};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/schema-v3/kaban.sqlite")
}

/// Every view of the group's book a person with a session reads.
fn views(book: &str, treasurer: &str, record: &str) -> Vec<String> {
    let base = format!("/api/v1/books/{book}");
    [
        String::new(),
        "/roster".into(),
        "/balances".into(),
        "/pending".into(),
        "/anomalies".into(),
        "/portfolio".into(),
        format!("/place?signer={treasurer}"),
        format!("/records/{record}"),
        "/members/m-ana/statement".into(),
        format!("/members/m-ana/receipts/{record}"),
    ]
    .into_iter()
    .map(|v| format!("{base}{v}"))
    .collect()
}

fn read_all(
    node: &NodeProcess,
    fx: &kaban_tests::fixture::GroupBook,
    paths: &[String],
) -> Vec<(u16, Value)> {
    let http = Http::new(&node.url);
    let session = http.session(&fx.treasurer);
    paths.iter().map(|p| http.get(p, &session)).collect()
}

#[test]
fn a_schema_v3_data_directory_upgrades_and_serves_every_view_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old");
    std::fs::create_dir_all(&old).unwrap();
    std::fs::copy(fixture(), old.join("kaban.sqlite")).unwrap();
    let mut fx = upgrade_book();
    let fresh = dir.path().join("fresh");
    fx.store(&fresh);

    let upgraded = NodeProcess::start(&old);
    let reference = NodeProcess::start(&fresh);
    let book = fx.id().to_string();
    let record = fx.book.records().last().unwrap().id().to_string();
    let paths = views(&book, &fx.treasurer.public().to_string(), &record);
    let (got, want) = (
        read_all(&upgraded, &fx, &paths),
        read_all(&reference, &fx, &paths),
    );
    for ((path, got), want) in paths.iter().zip(&got).zip(&want) {
        assert_eq!(got.0, 200, "GET {path} on the upgraded node: {}", got.1);
        assert_eq!(
            got, want,
            "GET {path}: the upgraded node differs from a fresh one"
        );
    }
    // The balance is the fixture's: 100 + 101 + 102 + 103 + 2,500 cents.
    let balances = &got[2].1;
    assert!(balances.to_string().contains("2906"), "{balances}");

    // Ana's personal data came through the migration.
    let http = Http::new(&upgraded.url);
    let session = http.session(&fx.treasurer);
    let (status, personal) = http.get(&format!("{}/members/m-ana/personal", paths[0]), &session);
    assert_eq!(status, 200, "{personal}");
    let (name, phone, notes) = UPGRADE_PERSONAL;
    assert_eq!(personal["personal"]["full_name"], name);
    assert_eq!(personal["personal"]["phone"], phone);
    assert_eq!(personal["personal"]["notes"], notes);

    // The upgraded node takes new records.
    let next = fx.contribution(77);
    assert!(matches!(http.submit(&next), Some((201, _))));
    assert!(upgraded.stop().success());

    // A backup needs migration 0004's table, and counts Ana's personal data.
    let out = Command::new(bin_dir().join("kaban-node"))
        .args(["backup", "--data-dir"])
        .arg(&old)
        .arg("--out")
        .arg(dir.path().join("after-upgrade.sqlite"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("personal data"), "{stdout}");
}
