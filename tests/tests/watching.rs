//! Watching a node, as its operator would: `GET /metrics` over real HTTP needs the admin token
//! and its figures move when a record is written and a backup taken; `kaban-node doctor` on the
//! node's real data directory passes, then fails with an explanation when the directory is
//! opened to other users or HTTP is exposed without HTTPS.

#![allow(clippy::unwrap_used)]

use kaban_tests::{Http, NodeProcess, bin_dir, book_with_member, kaban_node_ok, kaban_ok};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

/// The value of the sample `name` (with its labels, as printed) on a metrics page.
fn sample(page: &str, name: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} on the page:\n{page}"))
        .trim()
        .parse()
        .unwrap()
}

fn contribute(dir: &Path, node: &NodeProcess, book: &str, member: &str) {
    kaban_ok(
        dir,
        &node.url,
        &[
            "--key",
            "t.key",
            "contribute",
            "--book",
            book,
            "--member",
            member,
            "--amount",
            "100",
        ],
    );
}

#[test]
fn metrics_need_the_admin_token_and_move_with_writes_and_backups() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(&dir.path().join("node"));
    let (book, member) = book_with_member(dir.path(), &node, "Watched Savers", "HKD");
    let http = Http::new(&node.url);

    assert_eq!(http.get_text("/metrics", "").0, 401);
    assert_eq!(http.get_text("/metrics", "not-the-token").0, 401);
    let admin = node.admin_token();
    let (status, before) = http.get_text("/metrics", &admin);
    assert_eq!(status, 200, "{before}");
    assert!(before.ends_with("# EOF\n"), "{before}");
    assert_eq!(sample(&before, "kaban_books"), 1.0);
    assert!(sample(&before, "kaban_storage_bytes") > 0.0);
    assert!(sample(&before, "kaban_last_backup_age_seconds").is_nan());

    contribute(dir.path(), &node, &book, &member);
    let after = http.get_text("/metrics", &admin).1;
    let created = "kaban_writes_total{outcome=\"created\"}";
    assert_eq!(sample(&after, created), sample(&before, created) + 1.0);
    assert_eq!(
        sample(&after, "kaban_write_seconds_count"),
        sample(&before, "kaban_write_seconds_count") + 1.0
    );
    assert_eq!(
        sample(&after, "kaban_records"),
        sample(&before, "kaban_records") + 1.0
    );
    println!("{after}");

    kaban_node_ok([
        "backup".as_ref(),
        "--data-dir".as_ref(),
        node.data_dir.as_os_str(),
        "--out".as_ref(),
        dir.path().join("backup.sqlite").as_os_str(),
    ]);
    let page = http.get_text("/metrics", &admin).1;
    let age = sample(&page, "kaban_last_backup_age_seconds");
    assert!((0.0..3600.0).contains(&age), "backup age {age}");
}

/// Runs `kaban-node doctor` with a config file naming `data_dir` and `http`.
fn doctor(dir: &Path, data_dir: &Path, http: &str) -> (bool, String) {
    let config = dir.join("doctor.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nhttp = {http:?}\n",
            data_dir.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = Command::new(bin_dir().join("kaban-node"))
        .args(["doctor", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{text}{}", String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn line<'a>(report: &'a str, check: &str) -> &'a str {
    report
        .lines()
        .find(|l| l.contains(check))
        .unwrap_or_else(|| panic!("no {check} line in:\n{report}"))
}

#[test]
fn doctor_passes_a_healthy_node_and_explains_what_fails() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let node = NodeProcess::start(&data);
    book_with_member(dir.path(), &node, "Watched Savers", "HKD");

    let (ok, report) = doctor(dir.path(), &data, &node.http);
    assert!(ok, "{report}");
    assert!(line(&report, "data directory").contains("ok"), "{report}");
    assert!(line(&report, "database").contains("ok"), "{report}");
    assert!(line(&report, "disk space").contains("free"), "{report}");
    assert!(
        line(&report, "partners").contains("no partner nodes"),
        "{report}"
    );
    // No backup yet: a warning, not a failure.
    assert!(line(&report, "backups").contains("WARN"), "{report}");
    assert!(
        line(&report, "HTTP exposure").contains("loopback only"),
        "{report}"
    );

    // A data directory others can read fails, and says what to do.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let (ok, report) = doctor(dir.path(), &data, &node.http);
    assert!(!ok, "{report}");
    let bad = line(&report, "data directory");
    assert!(
        bad.contains("FAIL") && bad.contains("chmod 700"),
        "{report}"
    );
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();

    // HTTP on every interface without HTTPS fails.
    let port = node.http.rsplit(':').next().unwrap();
    let (ok, report) = doctor(dir.path(), &data, &format!("0.0.0.0:{port}"));
    assert!(!ok, "{report}");
    let bad = line(&report, "HTTP exposure");
    assert!(
        bad.contains("FAIL") && bad.contains("without HTTPS"),
        "{report}"
    );

    // A stopped node: the partners check says it cannot tell, the rest still runs.
    assert!(node.stop().success());
    let (ok, report) = doctor(dir.path(), &data, "127.0.0.1:9");
    assert!(ok, "{report}");
    assert!(
        line(&report, "partners").contains("does not answer"),
        "{report}"
    );
}
