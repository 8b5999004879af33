//! `kaban-node doctor`: checks a node's machine and data, and explains each finding in a line,
//! so that a volunteer looking after a mini-PC sees on one screen what needs doing.
//!
//! Every check reads; none repairs. The database is opened read-only and not migrated, so the
//! doctor is safe beside a running node and on a damaged database. What only the running node
//! knows (its partners' last syncs) it asks over HTTP with the admin token; when the node is not
//! running, that check says so rather than guessing.

use crate::config::Config;
use kaban_protocol::api::node::Peers;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::Path;
use std::time::Duration;

/// A backup older than this is overdue: a week of meetings is what a group can re-enter.
pub const BACKUP_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);
/// A partner not synced for this long is worth a look: groups meet weekly, nodes sync within
/// minutes when both are up.
pub const PARTNER_MAX_SILENCE: Duration = Duration::from_secs(24 * 3600);
/// Below this free space the doctor warns: the database grows with every meeting, and SQLite
/// needs room for its write-ahead log and for a backup's copy.
pub const DISK_LOW_BYTES: u64 = 1024 * 1024 * 1024;
/// Below this the node is about to refuse writes or fail them.
pub const DISK_CRITICAL_BYTES: u64 = 100 * 1024 * 1024;
/// How long the doctor waits for the running node's answer.
const ASK_TIMEOUT: Duration = Duration::from_secs(3);

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Ok,
    Warn,
    Fail,
    /// The doctor cannot tell, and says why.
    Unknown,
}

/// One check's finding.
#[derive(Debug, Clone)]
pub struct Finding {
    pub level: Level,
    pub check: &'static str,
    pub detail: String,
}

fn finding(level: Level, check: &'static str, detail: impl Into<String>) -> Finding {
    Finding {
        level,
        check,
        detail: detail.into(),
    }
}

/// Runs every check against the node configured by `config`, at `now_ms`.
pub fn examine(config: &Config, now_ms: u64) -> Vec<Finding> {
    let dir = &config.data_dir;
    let inspection = crate::storage::inspect(dir);
    let last_backup = inspection.as_ref().ok().map(|i| i.last_backup_ms);
    vec![
        data_dir(dir),
        database(inspection.as_ref().map(|i| i.quick_check.as_str())),
        disk_space(dir),
        backups(last_backup, now_ms),
        partners(config, now_ms),
        clock_skew(),
        http_exposure(config),
    ]
}

/// The findings as the operator reads them, one line each, and a last line that counts them.
pub fn render(config: &Config, findings: &[Finding]) -> String {
    let mut out = format!("kaban-node doctor: {}\n", config.data_dir.display());
    for f in findings {
        let level = match f.level {
            Level::Ok => "ok",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
            Level::Unknown => "?",
        };
        out.push_str(&format!("  {level:<5} {:<15} {}\n", f.check, f.detail));
    }
    let failed = findings.iter().filter(|f| f.level == Level::Fail).count();
    let warned = findings.iter().filter(|f| f.level == Level::Warn).count();
    out.push_str(&match (failed, warned) {
        (0, 0) => "all checks passed\n".to_owned(),
        _ => format!("{failed} failed, {warned} to look at\n"),
    });
    out
}

/// The data directory and what is in it are the node user's alone (0700 and 0600): it holds
/// the admin token, the node key and members' personal data.
fn data_dir(dir: &Path) -> Finding {
    const CHECK: &str = "data directory";
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) => return finding(Level::Fail, CHECK, format!("{}: {e}", dir.display())),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return finding(
            Level::Fail,
            CHECK,
            format!(
                "{} is mode {mode:o}: other users can read the books and the admin token; `chmod 700` it (the node does at start)",
                dir.display()
            ),
        );
    }
    let me = rustix::process::geteuid().as_raw();
    if meta.uid() != me {
        return finding(
            Level::Warn,
            CHECK,
            format!(
                "{} belongs to uid {}, not to this user (uid {me}); run the doctor as the node's user",
                dir.display(),
                meta.uid()
            ),
        );
    }
    let open: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o077 != 0)
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if !open.is_empty() {
        return finding(
            Level::Fail,
            CHECK,
            format!(
                "readable by others: {}; `chmod 600` them (the node does at start)",
                open.join(", ")
            ),
        );
    }
    finding(
        Level::Ok,
        CHECK,
        format!("{} is private (0700)", dir.display()),
    )
}

fn database(quick_check: Result<&str, &crate::storage::StorageError>) -> Finding {
    const CHECK: &str = "database";
    match quick_check {
        Ok("ok") => finding(Level::Ok, CHECK, "SQLite's quick check found nothing wrong"),
        Ok(problems) => finding(
            Level::Fail,
            CHECK,
            format!(
                "SQLite's quick check found damage ({problems}); stop the node and restore the last backup (`kaban-node restore`)"
            ),
        ),
        Err(e) => finding(Level::Fail, CHECK, format!("cannot read it: {e}")),
    }
}

fn disk_space(dir: &Path) -> Finding {
    const CHECK: &str = "disk space";
    let stat = match rustix::fs::statvfs(dir) {
        Ok(s) => s,
        Err(e) => return finding(Level::Unknown, CHECK, format!("cannot tell: {e}")),
    };
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    let text = format!("{} free on the data directory's disk", bytes(free));
    if free < DISK_CRITICAL_BYTES {
        finding(
            Level::Fail,
            CHECK,
            format!("{text}: the node will soon fail to write; free some now"),
        )
    } else if free < DISK_LOW_BYTES {
        finding(
            Level::Warn,
            CHECK,
            format!("{text}: under {}", bytes(DISK_LOW_BYTES)),
        )
    } else {
        finding(Level::Ok, CHECK, text)
    }
}

fn backups(last_backup_ms: Option<Option<u64>>, now_ms: u64) -> Finding {
    const CHECK: &str = "backups";
    match last_backup_ms {
        None => finding(Level::Unknown, CHECK, "the database could not be read"),
        Some(None) => finding(
            Level::Warn,
            CHECK,
            "no backup yet: `kaban-node backup --out FILE`, or set backup_dir (scheduled backups)",
        ),
        Some(Some(ms)) => {
            let age = Duration::from_millis(now_ms.saturating_sub(ms));
            if age > BACKUP_MAX_AGE {
                finding(
                    Level::Warn,
                    CHECK,
                    format!(
                        "the last backup is {} old: take one, and copy it off the machine",
                        ago(age)
                    ),
                )
            } else {
                finding(
                    Level::Ok,
                    CHECK,
                    format!("the last backup is {} old", ago(age)),
                )
            }
        }
    }
}

/// Partners whose last sync that brought changes is over a day old, from the running node.
fn partners(config: &Config, now_ms: u64) -> Finding {
    const CHECK: &str = "partners";
    let peers = match ask_running_node(config) {
        Ok(p) => p,
        Err(why) => return finding(Level::Unknown, CHECK, why),
    };
    let silent: Vec<String> = peers
        .partners
        .iter()
        .filter_map(|p| {
            let s = &p.state;
            let age = s
                .last_synced_ms
                .map(|ms| Duration::from_millis(now_ms.saturating_sub(ms)));
            match age {
                Some(age) if age <= PARTNER_MAX_SILENCE => None,
                Some(age) => Some(format!(
                    "{} for book {}: last synced {} ago",
                    s.peer,
                    s.book,
                    ago(age)
                )),
                None => Some(format!("{} for book {}: never synced", s.peer, s.book)),
            }
        })
        .collect();
    match (peers.partners.len(), silent.is_empty()) {
        (0, _) => finding(Level::Ok, CHECK, "no partner nodes"),
        (n, true) => finding(
            Level::Ok,
            CHECK,
            format!("{n} partner(s), all synced within a day"),
        ),
        (_, false) => finding(
            Level::Warn,
            CHECK,
            format!("unreachable for over a day: {}", silent.join("; ")),
        ),
    }
}

/// The running node's partners, from `GET /api/v1/admin/peers` on its HTTP address (loopback
/// when it listens on every interface).
fn ask_running_node(config: &Config) -> Result<Peers, String> {
    let token_path = config.data_dir.join(crate::node::ADMIN_TOKEN_FILE);
    let token = std::fs::read_to_string(&token_path)
        .map_err(|e| format!("cannot read {}: {e}", token_path.display()))?;
    let mut addr = config.http;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(ASK_TIMEOUT))
            .build(),
    );
    let url = format!("http://{addr}/api/v1/admin/peers");
    let mut answer = agent
        .get(&url)
        .header("Authorization", format!("Bearer {}", token.trim()))
        .call()
        .map_err(|e| {
            format!("the node does not answer at http://{addr} ({e}); partners' sync state is known only to a running node")
        })?;
    answer
        .body_mut()
        .read_json()
        .map_err(|e| format!("the node's answer at {url} is not a partner list: {e}"))
}

/// Partners do not tell each other their clocks, so skew cannot be measured here; records are
/// timed by the officers' devices, so a wrong clock on the node does not change them.
fn clock_skew() -> Finding {
    finding(
        Level::Unknown,
        "clock skew",
        "not measured: partners do not exchange clocks; keep NTP on (`timedatectl`) so logs and backup ages are right",
    )
}

fn http_exposure(config: &Config) -> Finding {
    const CHECK: &str = "HTTP exposure";
    let http = config.http;
    match (http.ip().is_loopback(), config.https) {
        (true, _) => finding(Level::Ok, CHECK, format!("HTTP on {http}, loopback only")),
        (false, Some(https)) => finding(
            Level::Ok,
            CHECK,
            format!("HTTP on {http} serves the CA certificate; phones use HTTPS on {https}"),
        ),
        (false, None) => finding(
            Level::Fail,
            CHECK,
            format!(
                "HTTP on {http} reaches beyond this machine without HTTPS: session tokens cross the LAN in clear; add https and https_names, or listen on 127.0.0.1"
            ),
        ),
    }
}

fn bytes(n: u64) -> String {
    const GIB: f64 = 1024.0 * 1024.0 * 1024.0;
    const MIB: f64 = 1024.0 * 1024.0;
    if n as f64 >= GIB {
        format!("{:.1} GiB", n as f64 / GIB)
    } else {
        format!("{:.0} MiB", n as f64 / MIB)
    }
}

fn ago(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        7200..172_800 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_the_unit_that_fits() {
        assert_eq!(ago(Duration::from_secs(30)), "30 s");
        assert_eq!(ago(Duration::from_secs(600)), "10 min");
        assert_eq!(ago(Duration::from_secs(5 * 3600)), "5 h");
        assert_eq!(ago(Duration::from_secs(9 * 86_400)), "9 days");
    }

    #[test]
    fn an_old_backup_is_a_warning_and_a_recent_one_is_not() {
        let day_ms = 86_400_000;
        let now = 100 * day_ms;
        assert_eq!(
            backups(Some(Some(now - 8 * day_ms)), now).level,
            Level::Warn
        );
        assert_eq!(backups(Some(Some(now - day_ms)), now).level, Level::Ok);
        assert_eq!(backups(Some(None), now).level, Level::Warn);
    }
}
