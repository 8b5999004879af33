//! The database file itself: where it lives in a data directory, and putting a backup in its
//! place.

use super::{StorageError, known_version};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};

/// The database's file name in a data directory; its WAL and shared memory are beside it.
const DATABASE: &str = "kaban.sqlite";

/// The database file in `data_dir`.
pub fn database_in(data_dir: &Path) -> PathBuf {
    data_dir.join(DATABASE)
}

/// Checks a backup without changing it: SQLite's integrity check, and a schema this build
/// knows. Returns SQLite's answer (`ok`, or what is wrong).
pub fn check_backup(path: &Path) -> Result<String, StorageError> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    known_version(&conn, path)?;
    Ok(conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?)
}

/// Puts the backup at `from` in place of the database in `data_dir`, after checking it. The
/// database there, if any, is moved aside (its name says when); returns where it went.
pub fn restore(data_dir: &Path, from: &Path, now_ms: u64) -> Result<Option<PathBuf>, StorageError> {
    let check = check_backup(from)?;
    if check != "ok" {
        return Err(StorageError::Damaged {
            path: from.to_owned(),
            check,
        });
    }
    let io = |what: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| StorageError::File { what, path, source }
    };
    std::fs::create_dir_all(data_dir).map_err(io("creating", data_dir))?;
    let db = database_in(data_dir);
    let mut aside = None;
    if db.exists() {
        let to = data_dir.join(format!("{DATABASE}.before-restore-{now_ms}"));
        std::fs::rename(&db, &to).map_err(io("moving aside", &db))?;
        for ext in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(data_dir.join(format!("{DATABASE}{ext}")));
        }
        aside = Some(to);
    }
    std::fs::copy(from, &db).map_err(io("copying", from))?;
    Ok(aside)
}
