//! Backup while the node runs, restore into a wiped data directory, and find every record.

#![allow(clippy::unwrap_used)]

use kaban_tests::{
    Http, NodeProcess, START_TIMEOUT, bin_dir, book_with_member, eventually, kaban, kaban_node_ok,
    kaban_ok,
};
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
    let (book, m) = book_with_member(d, &node, "Backup Savers", "TWD");
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
    kaban_node_ok([
        "backup",
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        backup.to_str().unwrap(),
    ]);
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

    let out = kaban_node_ok([
        "restore",
        "--data-dir",
        data.to_str().unwrap(),
        "--from",
        backup.to_str().unwrap(),
    ]);
    assert!(out.contains("moved the current database aside"));

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

/// The names in `dir`, sorted.
fn names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn scheduled_backups_happen_at_start_keep_the_newest_and_restore() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = d.join("data");
    let backups = d.join("backups");
    // Three older scheduled backups and one taken by hand: with backup_keep = 2, the two
    // oldest scheduled ones go; the hand-made one is not the schedule's to delete.
    std::fs::create_dir_all(&backups).unwrap();
    for name in [
        "kaban-backup-1000.sqlite",
        "kaban-backup-2000.sqlite",
        "kaban-backup-3000.sqlite",
        "by-hand.sqlite",
    ] {
        std::fs::write(backups.join(name), b"old").unwrap();
    }
    let config = d.join("kaban.toml");
    std::fs::write(
        &config,
        format!(
            "backup_dir = {:?}\nbackup_every_h = 24\nbackup_keep = 2\n",
            backups.to_str().unwrap()
        ),
    )
    .unwrap();
    let node = NodeProcess::start_with(
        &data,
        "127.0.0.1:0",
        &[
            "--listen",
            "/ip4/127.0.0.1/tcp/0",
            "--config",
            config.to_str().unwrap(),
        ],
    );
    // No backup was ever made, so one is due at start.
    eventually(
        "the first scheduled backup is written and the old ones pruned",
        START_TIMEOUT,
        || names(&backups).len() == 3,
    );
    let kept = names(&backups);
    assert!(kept.contains(&"by-hand.sqlite".to_owned()), "{kept:?}");
    assert!(
        kept.contains(&"kaban-backup-3000.sqlite".to_owned()),
        "{kept:?}"
    );
    let new = kept
        .iter()
        .find(|n| !["by-hand.sqlite", "kaban-backup-3000.sqlite"].contains(&n.as_str()))
        .unwrap();
    assert!(new.starts_with("kaban-backup-"), "{kept:?}");
    // Its age is on the metrics page.
    let page = Http::new(&node.url)
        .get_text("/metrics", &node.admin_token())
        .1;
    let age: f64 = page
        .lines()
        .find_map(|l| l.strip_prefix("kaban_last_backup_age_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((0.0..3600.0).contains(&age), "{page}");
    assert!(node.stop().success());

    // The scheduled backup restores into a fresh data directory.
    kaban_node_ok([
        "restore".as_ref(),
        "--data-dir".as_ref(),
        d.join("restored").as_os_str(),
        "--from".as_ref(),
        backups.join(new).as_os_str(),
    ]);
}
