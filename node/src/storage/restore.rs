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

/// How many database pages a restore copies between two progress reports: 1,024 pages of 4 KiB,
/// so a report every 4 MiB, and the copy does not hold SQLite's locks for long at a time.
const PAGES_PER_STEP: i32 = 1024;

/// Puts the backup at `from` in place of the database in `data_dir`, after checking it. The
/// database there, if any, is moved aside (its name says when); returns where it went.
/// `progress` hears `(pages copied, pages in all)` as the copy goes, through SQLite's online
/// backup, page by page, so a large restore shows how far it is.
pub fn restore(
    data_dir: &Path,
    from: &Path,
    now_ms: u64,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Option<PathBuf>, StorageError> {
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
    copy_database(from, &db, progress)?;
    Ok(aside)
}

/// Copies the database at `from` into a new database at `to`, with SQLite's backup API.
fn copy_database(
    from: &Path,
    to: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<(), StorageError> {
    let source = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut target = Connection::open(to)?;
    let backup = rusqlite::backup::Backup::new(&source, &mut target)?;
    loop {
        let step = backup.step(PAGES_PER_STEP)?;
        let p = backup.progress();
        let total = u64::try_from(p.pagecount).unwrap_or(0);
        let left = u64::try_from(p.remaining).unwrap_or(0);
        progress(total.saturating_sub(left), total);
        match step {
            rusqlite::backup::StepResult::Done => return Ok(()),
            // Nobody else opens the new file, and the source is a closed backup; a busy or
            // locked answer would come from a person's tool holding it, so wait a moment.
            _ => std::thread::sleep(std::time::Duration::from_millis(10)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_reports_its_progress_to_the_last_page_and_refuses_junk() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("source");
        let (storage, thread) = super::super::open(&source).unwrap();
        drop(storage);
        thread.join().unwrap();
        let target = dir.path().join("target");
        let mut seen = Vec::new();
        let aside = restore(&target, &database_in(&source), 1, &mut |copied, total| {
            seen.push((copied, total))
        })
        .unwrap();
        assert_eq!(aside, None);
        let (copied, total) = *seen.last().unwrap();
        assert!(total > 0 && copied == total, "{seen:?}");
        assert_eq!(check_backup(&database_in(&target)).unwrap(), "ok");

        let junk = dir.path().join("junk.sqlite");
        std::fs::write(&junk, b"not a database").unwrap();
        assert!(restore(&target, &junk, 2, &mut |_, _| {}).is_err());
        // A refused restore leaves the database where it was.
        assert_eq!(check_backup(&database_in(&target)).unwrap(), "ok");
    }
}
