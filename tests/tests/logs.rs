//! The node's logs are structured and keep no secret: a whole run of a real node at debug level,
//! with `--log-format json`, in which an officer opens a session, stores a member's name, phone
//! number and notes, reads them back, writes records, and the operator uses the admin token;
//! every log line is a JSON object, and none holds the personal data or any token.

#![allow(clippy::unwrap_used)]

use kaban_tests::fixture::GroupBook;
use kaban_tests::{Http, NodeProcess, bin_dir};
use serde_json::{Value, json};
use std::process::Command;

#[test]
fn a_whole_run_logs_json_lines_without_personal_data_or_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let mut fx = GroupBook::new("Bayanihan Savers");
    fx.contribute(3);
    fx.store(&data);
    let log_path = dir.path().join("node.log");
    let mut command = Command::new(bin_dir().join("kaban-node"));
    command
        .args(["run", "--data-dir"])
        .arg(&data)
        .args(["--http", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0"])
        .args(["--no-mdns", "--log-format", "json"])
        .env("RUST_LOG", "debug")
        .stderr(std::fs::File::create(&log_path).unwrap());
    let node = NodeProcess::spawn(command, &data);
    let http = Http::new(&node.url);

    let name = "Maria Clarissa Dizon-Tolentino";
    let phone = "+852 5550 1987";
    let notes = "prefers Tagalog, sister in Cebu";
    let session = http.session(&fx.treasurer);
    let personal = format!("/api/v1/books/{}/members/m-ana/personal", fx.id());
    let put = json!({"full_name": name, "phone": phone, "notes": notes});
    assert_eq!(http.put_with(&personal, &session, put.to_string()).0, 204);
    let (status, back) = http.get(&personal, &session);
    assert_eq!(
        (status, back["personal"]["phone"].as_str()),
        (200, Some(phone))
    );
    // A bad phone number is refused, and the refusal is logged without it.
    let bad_phone = "+852 5550 1987 ext 99999999999999999999 ".repeat(20);
    let bad = json!({"full_name": name, "phone": bad_phone});
    assert_ne!(http.put_with(&personal, &session, bad.to_string()).0, 204);
    for _ in 0..2 {
        let record = fx.contribution(250);
        assert!(matches!(http.submit(&record), Some((201, _))));
    }
    let statement = format!("/api/v1/books/{}/members/m-ana/statement", fx.id());
    assert_eq!(http.get(&statement, &session).0, 200);
    let admin = node.admin_token();
    assert_eq!(http.get("/api/v1/admin/peers", &admin).0, 200);
    assert_eq!(http.get_text("/metrics", &admin).0, 200);
    assert_eq!(
        http.get("/api/v1/admin/peers", "a-wrong-token-9f8e7d").0,
        401
    );
    assert!(node.stop().success());

    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    // Debug level logs every request: far more than a handful of lines.
    assert!(lines.len() > 20, "only {} log lines:\n{log}", lines.len());
    for line in &lines {
        let parsed: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a log line is not JSON ({e}): {line}"));
        assert!(parsed["level"].is_string(), "{line}");
    }
    for (what, secret) in [
        ("the member's name", name),
        ("her family name", "Dizon-Tolentino"),
        ("her phone number", phone),
        ("her phone's digits", "5550 1987"),
        ("the notes", "sister in Cebu"),
        ("the session token", session.as_str()),
        ("the admin token", admin.as_str()),
        ("a wrong token", "a-wrong-token-9f8e7d"),
    ] {
        assert!(!log.contains(secret), "the logs hold {what}");
    }
}
