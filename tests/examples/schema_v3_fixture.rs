//! Writes the schema upgrade fixture, `tests/fixtures/schema-v3/kaban.sqlite`: the database of
//! a node at schema version 3 (migrations 0001 to 0003, the release before 0004_privacy), with
//! the book of `fixture::upgrade_book` and Ana's personal data.
//!
//! Run with `cargo run -p kaban-tests --example schema_v3_fixture -- DIR`. It stores the book
//! and the personal data with the current node, then undoes migration 0004 with SQL (drop the
//! columns and the table it added, set user_version to 3), which leaves exactly the tables and
//! rows version 3 wrote: 0004 only adds. Kept as a file, not made at test time, so that the
//! test reads what an old node left on disk rather than what today's code writes.

#![allow(clippy::unwrap_used)]

use kaban_tests::fixture::{UPGRADE_PERSONAL, upgrade_book};
use kaban_tests::{Http, NodeProcess};
use serde_json::json;
use std::path::PathBuf;
use std::process::Command;

const DOWNGRADE: &str = "
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.executescript('''
ALTER TABLE personal DROP COLUMN created_ms;
DROP TABLE backups;
ALTER TABLE books DROP COLUMN authorised;
PRAGMA user_version = 3;
''')
db.execute('PRAGMA wal_checkpoint(TRUNCATE)')
db.execute('PRAGMA journal_mode = DELETE')
db.execute('VACUUM')
db.close()
";

fn main() {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .expect("usage: schema_v3_fixture DIR"),
    );
    let data = out.join("data");
    let fx = upgrade_book();
    fx.store(&data);
    let node = NodeProcess::start(&data);
    let http = Http::new(&node.url);
    let session = http.session(&fx.treasurer);
    let (name, phone, notes) = UPGRADE_PERSONAL;
    let path = format!("/api/v1/books/{}/members/m-ana/personal", fx.id());
    let put = json!({"full_name": name, "phone": phone, "notes": notes});
    assert_eq!(http.put_with(&path, &session, put.to_string()).0, 204);
    assert!(node.stop().success());
    let db = data.join("kaban.sqlite");
    let status = Command::new("python3")
        .args(["-c", DOWNGRADE])
        .arg(&db)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::copy(&db, out.join("kaban.sqlite")).unwrap();
    println!("wrote {}", out.join("kaban.sqlite").display());
}
