//! Storage: the only module that knows SQL.
//!
//! One dedicated thread owns the SQLite connection, so SQLite never blocks the async runtime.
//! Callers send jobs over a bounded channel and await a reply. Writes (a book's changes, with
//! a sync checkpoint if they came from a peer) are group-committed: the thread takes every
//! write waiting in the queue (up to [`MAX_GROUP_COMMIT`]) and commits them in one
//! transaction, so one fsync makes many writes durable. A reply to a write is sent only after
//! its transaction has committed with `synchronous=FULL`: nothing is acknowledged before it is
//! durable.
//!
//! Books are stored as an automerge snapshot plus the changes accepted since; compaction
//! replaces both in one transaction.

use kaban_protocol::record::BookId;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use tokio::sync::{mpsc, oneshot};

mod inspect;
mod restore;
pub use inspect::{Inspection, inspect};
pub use restore::{check_backup, database_in, restore};

/// Most jobs waiting for the storage thread; senders wait when it is full.
pub const JOB_QUEUE: usize = 4096;
/// Most writes committed in one transaction.
pub const MAX_GROUP_COMMIT: usize = 512;
/// Migrations, numbered from 1, tracked by `PRAGMA user_version`.
const MIGRATIONS: &[&str] = &[
    include_str!("storage/0001_init.sql"),
    include_str!("storage/0002_sync.sql"),
    include_str!("storage/0003_partners.sql"),
    include_str!("storage/0004_privacy.sql"),
];

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "the data is deleted, but another reader of the database (a backup running now?) kept its write-ahead log from being emptied; try again when it has finished"
    )]
    WalBusy,
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "database {path} is at schema version {found}, newer than this build knows ({known}); upgrade kaban-node"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: usize,
    },
    #[error("the storage thread has stopped")]
    Stopped,
    #[error("stored book id {0:?} is not a book id")]
    BadBookId(String),
    #[error("an earlier change to book {0} failed to commit; the book is being reloaded")]
    Poisoned(BookId),
    #[error("{path} fails its integrity check: {check}")]
    Damaged { path: PathBuf, check: String },
    #[error("{what} {path}: {source}")]
    File {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A book as stored: its snapshot followed by the changes since, ready for `Book::load`.
/// (The `books.actor` column is no longer read or written meaningfully: a loaded book always
/// writes with a fresh actor, see `Library::open`.)
#[derive(Debug)]
pub struct StoredBook {
    pub id: BookId,
    pub bytes: Vec<u8>,
    pub changes_since_snapshot: usize,
}

/// Local-only personal data of a member, as the API carries it.
pub use kaban_protocol::api::book::PersonalData as Personal;

/// What erasing a member's personal data did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Erased {
    /// Whether there was any to erase.
    pub erased: bool,
    /// Backups made since it was stored, still on disk, which hold it.
    pub backups: Vec<String>,
}

type Reply<T> = oneshot::Sender<Result<T, StorageError>>;
type Call = Box<dyn FnOnce(&mut Connection) + Send>;

/// A sync session's checkpoint, stored in the same transaction as the changes it covers.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub peer: String,
    pub state: Vec<u8>,
    pub now_ms: u64,
}

/// One book's changes (and perhaps a sync checkpoint) to commit together. The reply carries the
/// `seq` of the book's last stored change once the transaction has committed, for compaction.
struct Write {
    book: BookId,
    changes: Vec<Vec<u8>>,
    checkpoint: Option<Checkpoint>,
    reply: Reply<i64>,
}

enum Job {
    Write(Write),
    /// Any other work, run alone in its own transaction by the closure.
    Call(Call),
    /// Accept appends for a book again after a failed commit, once its caller has reloaded
    /// the book from what is durable.
    Heal(BookId, Reply<()>),
}

/// A cloneable handle to the storage thread.
#[derive(Debug, Clone)]
pub struct Storage {
    jobs: mpsc::Sender<Job>,
    /// The database file; its WAL is beside it.
    path: PathBuf,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Write(w) => write!(f, "Write({}, {} changes)", w.book, w.changes.len()),
            Job::Call(_) => f.write_str("Call"),
            Job::Heal(book, _) => write!(f, "Heal({book})"),
        }
    }
}

/// Opens (creating if needed) the database in `data_dir`, migrates it, and starts the storage
/// thread. The thread ends when every handle is dropped; join the returned handle to wait for
/// the last commit.
pub fn open(data_dir: &Path) -> Result<(Storage, std::thread::JoinHandle<()>), StorageError> {
    std::fs::create_dir_all(data_dir).map_err(|source| StorageError::DataDir {
        path: data_dir.to_owned(),
        source,
    })?;
    let path = database_in(data_dir);
    let mut conn = Connection::open(&path)?;
    configure(&conn)?;
    migrate(&mut conn, &path)?;
    let (tx, rx) = mpsc::channel(JOB_QUEUE);
    let thread = std::thread::Builder::new()
        .name("kaban-storage".into())
        .spawn(move || run(conn, rx))
        .expect("spawning the storage thread");
    Ok((Storage { jobs: tx, path }, thread))
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    // WAL lets readers proceed during a write; FULL syncs the WAL on every commit, which is what
    // makes a committed transaction survive power loss.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Deleted content is overwritten with zeros, so erased personal data is gone from the
    // database file and not left in free pages.
    conn.pragma_update(None, "secure_delete", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// The database's schema version, refused if it is newer than this build knows.
fn known_version(conn: &Connection, path: &Path) -> Result<i64, StorageError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version as usize > MIGRATIONS.len() {
        return Err(StorageError::TooNew {
            path: path.to_owned(),
            found: version,
            known: MIGRATIONS.len(),
        });
    }
    Ok(version)
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StorageError> {
    let version = known_version(conn, path)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "migrated database");
    }
    Ok(())
}

fn run(mut conn: Connection, mut rx: mpsc::Receiver<Job>) {
    // Books whose last commit failed. Their later appends are refused until the book is
    // reloaded, because they may build on the change that did not reach the disk.
    let mut poisoned: HashSet<BookId> = HashSet::new();
    while let Some(first) = rx.blocking_recv() {
        let mut appends = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write(write) => {
                    appends.push(write);
                    if appends.len() < MAX_GROUP_COMMIT {
                        next = rx.try_recv().ok();
                    }
                }
                Job::Call(call) => {
                    // Keep order: commit the appends queued before this job first.
                    commit_appends(&mut conn, std::mem::take(&mut appends), &mut poisoned);
                    call(&mut conn);
                    next = rx.try_recv().ok();
                }
                Job::Heal(book, reply) => {
                    commit_appends(&mut conn, std::mem::take(&mut appends), &mut poisoned);
                    poisoned.remove(&book);
                    let _ = reply.send(Ok(()));
                    next = rx.try_recv().ok();
                }
            }
        }
        commit_appends(&mut conn, appends, &mut poisoned);
    }
    tracing::debug!("storage thread stopped");
}

fn commit_appends(conn: &mut Connection, writes: Vec<Write>, poisoned: &mut HashSet<BookId>) {
    let (refused, writes): (Vec<_>, Vec<_>) =
        writes.into_iter().partition(|w| poisoned.contains(&w.book));
    for w in refused {
        let _ = w.reply.send(Err(StorageError::Poisoned(w.book)));
    }
    if writes.is_empty() {
        return;
    }
    let started = std::time::Instant::now();
    let result = (|| -> rusqlite::Result<Vec<i64>> {
        let tx = conn.transaction()?;
        let mut last = Vec::with_capacity(writes.len());
        {
            let mut insert =
                tx.prepare_cached("INSERT INTO changes (book, bytes) VALUES (?1, ?2)")?;
            let mut checkpoint = tx.prepare_cached(
                "INSERT INTO sync_state (book, peer, state, updated_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (book, peer) DO UPDATE SET state = ?3, updated_ms = ?4",
            )?;
            let mut latest =
                tx.prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM changes WHERE book = ?1")?;
            for w in &writes {
                let book = w.book.to_string();
                for change in &w.changes {
                    insert.execute(params![book, change])?;
                }
                if let Some(c) = &w.checkpoint {
                    checkpoint.execute(params![book, c.peer, c.state, c.now_ms as i64])?;
                }
                last.push(latest.query_row(params![book], |r| r.get(0))?);
            }
        }
        tx.commit()?;
        Ok(last)
    })();
    let n = writes.len();
    tracing::debug!(
        writes = n,
        elapsed_us = started.elapsed().as_micros() as u64,
        "group commit"
    );
    match result {
        Ok(last) => {
            for (w, seq) in writes.into_iter().zip(last) {
                let _ = w.reply.send(Ok(seq));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, writes = n, "group commit failed");
            poisoned.extend(writes.iter().map(|w| w.book));
            for w in writes {
                let _ = w.reply.send(Err(StorageError::Sqlite(clone_error(&e))));
            }
        }
    }
}

fn read_book(conn: &Connection, id: &str) -> Result<StoredBook, StorageError> {
    let mut bytes: Vec<u8> = conn.query_row(
        "SELECT snapshot FROM books WHERE id = ?1",
        params![id],
        |r| r.get(0),
    )?;
    let mut changes =
        conn.prepare_cached("SELECT bytes FROM changes WHERE book = ?1 ORDER BY seq")?;
    let mut n = 0;
    for change in changes.query_map(params![id], |r| r.get::<_, Vec<u8>>(0))? {
        bytes.extend(change?);
        n += 1;
    }
    Ok(StoredBook {
        id: id
            .parse()
            .map_err(|_| StorageError::BadBookId(id.to_owned()))?,
        bytes,
        changes_since_snapshot: n,
    })
}

/// Checkpoints the WAL into the database and truncates it, so that nothing deleted is left in
/// it. A reader (a backup running beside the node) can hold the checkpoint back: it is tried
/// again for up to a second, then reported, since the caller promised an erase.
fn truncate_wal(conn: &Connection) -> Result<(), StorageError> {
    for _ in 0..20 {
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy == 0 {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Err(StorageError::WalBusy)
}

fn clone_error(e: &rusqlite::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(e.to_string().into())
}

impl Storage {
    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let (reply, rx) = oneshot::channel();
        let job = Job::Call(Box::new(move |conn| {
            let _ = reply.send(f(conn));
        }));
        self.jobs
            .send(job)
            .await
            .map_err(|_| StorageError::Stopped)?;
        rx.await.map_err(|_| StorageError::Stopped)?
    }

    /// Commits one book's changes, and a sync checkpoint if given, in one transaction, with
    /// the other writes waiting in the queue; returns once it has committed, with the `seq` of
    /// the book's last stored change. The book's owner writes one batch at a time, so a book's
    /// changes reach the disk in the order they were accepted.
    pub async fn write(
        &self,
        book: BookId,
        changes: Vec<Vec<u8>>,
        checkpoint: Option<Checkpoint>,
    ) -> Result<i64, StorageError> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job::Write(Write {
                book,
                changes,
                checkpoint,
                reply,
            }))
            .await
            .map_err(|_| StorageError::Stopped)?;
        rx.await.unwrap_or(Err(StorageError::Stopped))
    }

    /// Accepts appends for `book` again after a failed commit. Call it when the book has been
    /// reloaded from storage.
    pub async fn heal(&self, book: BookId) -> Result<(), StorageError> {
        let (reply, rx) = oneshot::channel();
        self.jobs
            .send(Job::Heal(book, reply))
            .await
            .map_err(|_| StorageError::Stopped)?;
        rx.await.map_err(|_| StorageError::Stopped)?
    }

    /// Stores a new book. `authorised`: it came in with the node's authority (see
    /// [`Storage::is_authorised`]).
    pub async fn create_book(
        &self,
        id: BookId,
        snapshot: Vec<u8>,
        now_ms: u64,
        authorised: bool,
    ) -> Result<(), StorageError> {
        self.call(move |conn| {
            conn.execute(
                // Two founders racing with the same genesis found one book: the first row stays.
                "INSERT OR IGNORE INTO books (id, actor, snapshot, created_ms, authorised)
                 VALUES (?1, x'', ?2, ?3, ?4)",
                params![id.to_string(), snapshot, now_ms as i64, authorised],
            )?;
            Ok(())
        })
        .await
    }

    /// Whether a book came in with the node's authority: founded with the admin token or a
    /// setup code, or joined from a partner by the operator. A book stored before founding
    /// needed authority is not.
    pub async fn is_authorised(&self, id: BookId) -> Result<bool, StorageError> {
        self.call(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT authorised FROM books WHERE id = ?1",
                    params![id.to_string()],
                    |r| r.get::<_, bool>(0),
                )
                .optional()?
                .unwrap_or(false))
        })
        .await
    }

    /// Deletes a book and everything kept for it (changes, sync checkpoints, partners), in one
    /// transaction, with any personal data kept for its members, then checkpoints and
    /// truncates the WAL.
    pub async fn remove_book(&self, id: BookId) -> Result<(), StorageError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            let id = id.to_string();
            for table in [
                "DELETE FROM personal WHERE book = ?1",
                "DELETE FROM changes WHERE book = ?1",
                "DELETE FROM sync_state WHERE book = ?1",
                "DELETE FROM partners WHERE book = ?1",
                "DELETE FROM books WHERE id = ?1",
            ] {
                tx.execute(table, params![id])?;
            }
            tx.commit()?;
            truncate_wal(conn)?;
            Ok(())
        })
        .await
    }

    /// Replaces a book's snapshot and drops the changes it includes: those stored up to `upto`
    /// (a `seq` from [`Storage::write`]), in one transaction. The book's owner made the
    /// snapshot from a copy taken when exactly those changes were durable; changes stored since
    /// stay, so compaction runs beside new writes.
    pub async fn compact(
        &self,
        id: BookId,
        snapshot: Vec<u8>,
        upto: i64,
    ) -> Result<(), StorageError> {
        self.call(move |conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "UPDATE books SET snapshot = ?2 WHERE id = ?1",
                params![id.to_string(), snapshot],
            )?;
            tx.execute(
                "DELETE FROM changes WHERE book = ?1 AND seq <= ?2",
                params![id.to_string(), upto],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub async fn load_books(&self) -> Result<Vec<StoredBook>, StorageError> {
        self.call(|conn| {
            let ids: Vec<String> = conn
                .prepare("SELECT id FROM books ORDER BY id")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            ids.iter().map(|id| read_book(conn, id)).collect()
        })
        .await
    }

    /// One stored book, as [`Storage::load_books`] reads them.
    pub async fn load_book(&self, id: BookId) -> Result<StoredBook, StorageError> {
        self.call(move |conn| read_book(conn, &id.to_string()))
            .await
    }

    pub async fn put_personal(
        &self,
        book: BookId,
        member: String,
        personal: Personal,
        now_ms: u64,
    ) -> Result<(), StorageError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO personal (book, member, full_name, phone, notes, updated_ms, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                 ON CONFLICT (book, member) DO UPDATE SET full_name = ?3, phone = ?4, notes = ?5,
                 updated_ms = ?6",
                params![
                    book.to_string(),
                    member,
                    personal.full_name,
                    personal.phone,
                    personal.notes,
                    now_ms as i64
                ],
            )?;
            Ok(())
        })
        .await
    }

    pub async fn get_personal(
        &self,
        book: BookId,
        member: String,
    ) -> Result<Option<Personal>, StorageError> {
        self.call(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT full_name, phone, notes FROM personal WHERE book = ?1 AND member = ?2",
                    params![book.to_string(), member],
                    |r| {
                        Ok(Personal {
                            full_name: r.get(0)?,
                            phone: r.get(1)?,
                            notes: r.get(2)?,
                        })
                    },
                )
                .optional()?)
        })
        .await
    }

    /// Erases a member's personal data: deleted with `secure_delete`, then the WAL is
    /// checkpointed and truncated, so no copy is left in the database, its WAL or its shm.
    /// Returns whether there was any, and the backups made since it was stored that still
    /// exist: they hold it until the operator deletes them.
    pub async fn erase_personal(
        &self,
        book: BookId,
        member: String,
    ) -> Result<Erased, StorageError> {
        self.call(move |conn| {
            let book = book.to_string();
            let created: Option<Option<i64>> = conn
                .query_row(
                    "SELECT created_ms FROM personal WHERE book = ?1 AND member = ?2",
                    params![book, member],
                    |r| r.get(0),
                )
                .optional()?;
            let Some(created) = created else {
                return Ok(Erased::default());
            };
            conn.execute(
                "DELETE FROM personal WHERE book = ?1 AND member = ?2",
                params![book, member],
            )?;
            truncate_wal(conn)?;
            let mut stmt = conn.prepare(
                "SELECT path FROM backups WHERE made_ms >= ?1 AND personal_rows > 0 ORDER BY made_ms",
            )?;
            let backups = stmt
                .query_map(params![created.unwrap_or(0)], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .filter(|p| Path::new(p).exists())
                .collect();
            Ok(Erased {
                erased: true,
                backups,
            })
        })
        .await
    }

    /// Stores the sync checkpoint of a (book, peer) session. Call it only after the changes
    /// received so far are durable.
    pub async fn get_sync_state(
        &self,
        book: BookId,
        peer: String,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        self.call(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT state FROM sync_state WHERE book = ?1 AND peer = ?2",
                    params![book.to_string(), peer],
                    |r| r.get(0),
                )
                .optional()?)
        })
        .await
    }

    /// Records that the operator accepted an invite: sync `book` with `peer` at `addrs`.
    pub async fn put_partner(
        &self,
        book: BookId,
        peer: String,
        addrs: Vec<String>,
        now_ms: u64,
    ) -> Result<(), StorageError> {
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO partners (book, peer, addrs, accepted_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (book, peer) DO UPDATE SET addrs = ?3",
                params![book.to_string(), peer, addrs.join(" "), now_ms as i64],
            )?;
            Ok(())
        })
        .await
    }

    /// Every accepted (book, peer, addresses).
    pub async fn partners(&self) -> Result<Vec<(BookId, String, Vec<String>)>, StorageError> {
        self.call(|conn| {
            let mut stmt =
                conn.prepare("SELECT book, peer, addrs FROM partners ORDER BY book, peer")?;
            let rows = stmt.query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (book, peer, addrs) = row?;
                let book: BookId = book
                    .parse()
                    .map_err(|_| StorageError::BadBookId(book.clone()))?;
                out.push((
                    book,
                    peer,
                    addrs.split_whitespace().map(str::to_owned).collect(),
                ));
            }
            Ok(out)
        })
        .await
    }

    /// Writes a consistent copy of the database to `out` (SQLite `VACUUM INTO`), readable by
    /// its owner only, and notes it, so that erasing a member later names it. Returns how many
    /// members' personal data it holds.
    pub async fn backup(&self, out: PathBuf, now_ms: u64) -> Result<u64, StorageError> {
        self.call(move |conn| {
            conn.execute("VACUUM INTO ?1", params![out.to_string_lossy()])?;
            std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o600)).map_err(
                |source| StorageError::DataDir {
                    path: out.clone(),
                    source,
                },
            )?;
            let personal: i64 =
                conn.query_row("SELECT count(*) FROM personal", [], |r| r.get(0))?;
            let path = std::fs::canonicalize(&out).unwrap_or(out);
            conn.execute(
                "INSERT INTO backups (path, made_ms, personal_rows) VALUES (?1, ?2, ?3)
                 ON CONFLICT (path) DO UPDATE SET made_ms = ?2, personal_rows = ?3",
                params![path.to_string_lossy(), now_ms as i64, personal],
            )?;
            Ok(personal as u64)
        })
        .await
    }

    /// Forgets the backup at `path` (deleted), so erasing a member no longer names it.
    pub async fn forget_backup(&self, path: PathBuf) -> Result<(), StorageError> {
        self.call(move |conn| {
            conn.execute(
                "DELETE FROM backups WHERE path = ?1",
                params![path.to_string_lossy()],
            )?;
            Ok(())
        })
        .await
    }

    /// When the last backup was made (ms since the epoch), from the backups this node noted.
    pub async fn last_backup_ms(&self) -> Result<Option<u64>, StorageError> {
        self.call(|conn| {
            let made: Option<i64> =
                conn.query_row("SELECT max(made_ms) FROM backups", [], |r| r.get(0))?;
            Ok(made.map(|ms| u64::try_from(ms).unwrap_or(0)))
        })
        .await
    }

    /// Bytes the database and its WAL take on disk now (two `stat` calls, no query).
    pub fn disk_usage(&self) -> u64 {
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut wal = self.path.clone().into_os_string();
        wal.push("-wal");
        size(&self.path) + size(Path::new(&wal))
    }

    /// Runs `PRAGMA integrity_check` and returns its answer ("ok" when healthy).
    pub async fn integrity_check(&self) -> Result<String, StorageError> {
        self.call(|conn| Ok(conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?))
            .await
    }
}
