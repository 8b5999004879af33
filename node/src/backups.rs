//! Scheduled backups: every `backup_every_h` hours (and at start, when the last backup is older
//! than that), a consistent copy of the database (`VACUUM INTO`, through the storage thread,
//! as `kaban-node backup` makes) goes into `backup_dir` as `kaban-backup-<ms>.sqlite`, and only
//! the newest `backup_keep` of those files stay. The node notes each backup, so `/metrics` and
//! `kaban-node doctor` report the last one's age, and forgets the ones it deletes, so erasing a
//! member names only backups that still exist.

use crate::config::BackupSchedule;
use crate::library::Library;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The scheduled backups' file names: this prefix, the time in ms since the epoch, `.sqlite`.
/// Only such files are ever deleted from the backup directory.
pub const FILE_PREFIX: &str = "kaban-backup-";

/// After a failed backup (a full disk, an unmounted USB stick), try again this soon rather than
/// a whole period later.
pub const RETRY_AFTER: Duration = Duration::from_secs(600);

/// Takes backups on `schedule` until `stop` turns true.
pub async fn run(
    library: Arc<Library>,
    schedule: BackupSchedule,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let wait = match library.last_backup_ms().await {
            Ok(last) => until_due(last, crate::clock::now_ms(), schedule.every),
            Err(e) => {
                tracing::warn!(error = %e, "could not read when the last backup was made");
                RETRY_AFTER
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        if let Err(e) = take(&library, &schedule).await {
            tracing::error!(dir = %schedule.dir.display(), error = %format!("{e:#}"), "scheduled backup failed; trying again in 10 minutes");
            tokio::select! {
                () = tokio::time::sleep(RETRY_AFTER) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
        }
    }
}

/// How long until the next backup is due, the last one made at `last_ms`.
fn until_due(last_ms: Option<u64>, now_ms: u64, every: Duration) -> Duration {
    match last_ms {
        None => Duration::ZERO,
        Some(last) => {
            let since = Duration::from_millis(now_ms.saturating_sub(last));
            every.saturating_sub(since)
        }
    }
}

/// One backup into the schedule's directory, then the oldest beyond `keep` deleted.
async fn take(library: &Library, schedule: &BackupSchedule) -> anyhow::Result<()> {
    crate::files::private_dir(&schedule.dir)?;
    let now_ms = crate::clock::now_ms();
    let out = schedule.dir.join(format!("{FILE_PREFIX}{now_ms}.sqlite"));
    library.backup(out.clone(), now_ms).await?;
    tracing::info!(file = %out.display(), "scheduled backup written");
    for old in beyond_keep(&schedule.dir, schedule.keep)? {
        // The node noted it by its canonical path, which exists only until it is removed.
        let noted = std::fs::canonicalize(&old).unwrap_or_else(|_| old.clone());
        std::fs::remove_file(&old)?;
        library.forget_backup(noted).await?;
        tracing::info!(file = %old.display(), "deleted an old scheduled backup");
    }
    Ok(())
}

/// The scheduled backups in `dir` older than the newest `keep`, oldest first.
pub fn beyond_keep(dir: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let ms = name.strip_prefix(FILE_PREFIX)?.strip_suffix(".sqlite")?;
            Some((ms.parse().ok()?, entry.path()))
        })
        .collect();
    found.sort();
    let excess = found.len().saturating_sub(keep);
    Ok(found.into_iter().take(excess).map(|(_, p)| p).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_is_due_at_once_without_a_last_one_and_a_period_after_it() {
        let day = Duration::from_secs(86_400);
        assert_eq!(until_due(None, 5_000, day), Duration::ZERO);
        assert_eq!(
            until_due(Some(0), 3_600_000, day),
            day - Duration::from_secs(3600)
        );
        assert_eq!(until_due(Some(0), 2 * 86_400_000, day), Duration::ZERO);
    }

    #[test]
    fn only_the_oldest_scheduled_backups_beyond_keep_go() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "kaban-backup-900.sqlite",
            "kaban-backup-10000.sqlite",
            "kaban-backup-2000.sqlite",
            "by-hand.sqlite",
            "kaban-backup-x.sqlite",
        ] {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let gone = beyond_keep(dir.path(), 2).unwrap();
        assert_eq!(gone, vec![dir.path().join("kaban-backup-900.sqlite")]);
        assert!(beyond_keep(dir.path(), 3).unwrap().is_empty());
    }
}
