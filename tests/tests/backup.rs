//! Backup while the node runs, restore into a wiped data directory, and find every record.

#![allow(clippy::unwrap_used)]

use kaban_tests::{NodeProcess, bin_dir, kaban, kaban_ok};
use serde_json::json;
use std::process::Command;

#[test]
fn a_backup_taken_while_running_restores_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    let node = NodeProcess::start(&data);
    let url = node.url.clone();
    let k = |args: &[&str]| kaban_ok(d, &url, args);
    let keeper = k(&["key", "new", "--out", "keeper.key"]);
    k(&["key", "new", "--out", "t.key"]);
    let book = k(&[
        "--key",
        "t.key",
        "book",
        "create",
        "--setup-code",
        node.setup_code.as_deref().unwrap(),
        "--name",
        "Backup Savers",
        "--currency",
        "TWD",
        "--officer",
        &format!("{keeper}:key_holder"),
    ]);
    let m = k(&[
        "--key", "t.key", "member", "add", "--book", &book, "--alias", "Lin",
    ]);
    k(&[
        "--key",
        "t.key",
        "contribute",
        "--book",
        &book,
        "--member",
        &m,
        "--amount",
        "1500",
    ]);

    let node_bin = bin_dir().join("kaban-node");
    let backup = d.join("kaban-backup.sqlite");
    let out = Command::new(&node_bin)
        .args([
            "backup",
            "--data-dir",
            data.to_str().unwrap(),
            "--out",
            backup.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A record written after the backup is not in it.
    k(&[
        "--key",
        "t.key",
        "contribute",
        "--book",
        &book,
        "--member",
        &m,
        "--amount",
        "7",
    ]);
    assert!(node.stop().success());

    // Backing up onto an existing file is refused.
    let out = Command::new(&node_bin)
        .args([
            "backup",
            "--data-dir",
            data.to_str().unwrap(),
            "--out",
            backup.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists; choose a new file"));
    // A corrupt backup is refused before anything is touched.
    std::fs::write(d.join("junk.sqlite"), b"not a database").unwrap();
    let out = Command::new(&node_bin)
        .args([
            "restore",
            "--data-dir",
            data.to_str().unwrap(),
            "--from",
            d.join("junk.sqlite").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());

    let out = Command::new(&node_bin)
        .args([
            "restore",
            "--data-dir",
            data.to_str().unwrap(),
            "--from",
            backup.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("moved the current database aside"));

    let node = NodeProcess::start(&data);
    let st = kaban(
        d,
        &node.url,
        &[
            "--key",
            "t.key",
            "--json",
            "statement",
            "--book",
            &book,
            "--member",
            &m,
        ],
    )
    .json();
    assert_eq!(
        st["balances"],
        json!([{"currency": "TWD", "minor": 150000}])
    );
}
