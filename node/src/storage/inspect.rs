//! A read-only look at a data directory's database, for `kaban-node doctor`: SQLite's quick
//! check and the last backup. It opens the file read-only and migrates nothing, so it is safe
//! beside a running node and on a database that may be damaged.

use super::{StorageError, database_in};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// What the database says of itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// `PRAGMA quick_check`'s answer: "ok", or the first problems it found.
    pub quick_check: String,
    /// When the last backup noted by the node was made (ms since the epoch).
    pub last_backup_ms: Option<u64>,
}

/// Inspects the database in `data_dir`. An error means it could not be opened or read at all.
pub fn inspect(data_dir: &Path) -> Result<Inspection, StorageError> {
    let path = database_in(data_dir);
    if !path.exists() {
        return Err(StorageError::File {
            what: "opening",
            path,
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let lines: Vec<String> = conn
        .prepare("PRAGMA quick_check(5)")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let has_backups: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'backups'",
        [],
        |r| r.get(0),
    )?;
    let last_backup_ms = if has_backups {
        conn.query_row("SELECT max(made_ms) FROM backups", [], |r| {
            r.get::<_, Option<i64>>(0)
        })?
        .map(|ms| u64::try_from(ms).unwrap_or(0))
    } else {
        None
    };
    Ok(Inspection {
        quick_check: lines.join("; "),
        last_backup_ms,
    })
}
