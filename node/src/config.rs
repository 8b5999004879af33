//! Configuration: one TOML file plus a few flags, parsed and checked once.
//!
//! ```toml
//! # Where the database, the node key and the admin token live.
//! data_dir = "/var/lib/kaban"
//! # Where the HTTP API listens. Loopback by default; see the README to serve phones on a LAN.
//! http = "127.0.0.1:8737"
//! # HTTPS for phones on the LAN, with the node's own CA (phones install /kaban-ca.crt once),
//! # and the names phones use for this machine.
//! https = "0.0.0.0:8743"
//! https_names = ["192.168.1.20", "kaban.lan"]
//! # The tracing filter, as in RUST_LOG.
//! log = "info"
//! # Where partner nodes reach this one (libp2p multiaddrs). Behind NAT, add a relay's circuit
//! # address: "/ip4/RELAY-IP/tcp/8738/p2p/RELAY-PEERID/p2p-circuit".
//! listen = ["/ip4/0.0.0.0/tcp/8738", "/ip4/0.0.0.0/udp/8738/quic-v1"]
//! # Find other Kaban nodes on the LAN by multicast DNS.
//! mdns = true
//! # Serve as a relay for partners behind NAT, and for these peers too.
//! relay = false
//! relay_peers = []
//! # Origins people reach this node at besides loopback and https_names (a reverse proxy).
//! origins = []
//!
//! # Scheduled backups: a consistent copy of the database into backup_dir every
//! # backup_every_h hours (and at start when the last is older), keeping the newest backup_keep.
//! backup_dir = "/var/backups/kaban"
//! backup_every_h = 24
//! backup_keep = 7
//!
//! # Limits; each line shows its default.
//! [limits]
//! header_timeout_s = 10          # a request's headers must arrive within this
//! request_timeout_s = 30         # a whole request, its body included
//! idle_timeout_s = 60            # a connection that moves no byte is closed
//! max_connections = 512          # HTTP and HTTPS together
//! max_connections_per_address = 32
//! max_records_per_book = 1000000
//! max_book_mb = 512              # a book's stored changes
//! disk_budget_mb = 16384         # the database and its WAL, all books together
//! book_idle_s = 600              # a book nobody asked for this long leaves memory
//! ```

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The default HTTP address: loopback only, so a fresh node is never exposed by accident.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8737";

/// The default peer-to-peer addresses: every interface, TCP and QUIC on port 8738. Partners
/// must reach one; connections are encrypted and authenticated (noise, or QUIC's TLS), and
/// books flow only to peers named by signed share records.
pub const DEFAULT_LISTEN: [&str; 2] = ["/ip4/0.0.0.0/tcp/8738", "/ip4/0.0.0.0/udp/8738/quic-v1"];

/// The configuration file as written. Every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `None`: `$KABAN_DATA_DIR`, else `$XDG_DATA_HOME/kaban`, else `~/.local/share/kaban`.
    pub data_dir: Option<PathBuf>,
    /// `None`: [`DEFAULT_HTTP`].
    pub http: Option<SocketAddr>,
    /// `None`: no HTTPS.
    pub https: Option<SocketAddr>,
    /// Names (IP addresses or host names) the HTTPS certificate is for, besides localhost.
    pub https_names: Option<Vec<String>>,
    /// `None`: `info`, or `$RUST_LOG` when set.
    pub log: Option<String>,
    /// `None`: [`DEFAULT_LISTEN`].
    pub listen: Option<Vec<String>>,
    /// `None`: on.
    pub mdns: Option<bool>,
    /// `None`: off.
    pub relay: Option<bool>,
    /// PeerIds this node relays for, besides its partners.
    pub relay_peers: Option<Vec<String>>,
    /// Origins people reach this node at besides loopback and `https_names` (a reverse proxy
    /// in front of it, say), like "https://kaban.example.org". Session signatures must name
    /// one of them.
    pub origins: Option<Vec<String>>,
    /// Where scheduled backups go. `None`: no scheduled backups (`kaban-node backup` still
    /// takes one by hand).
    pub backup_dir: Option<PathBuf>,
    /// Hours between scheduled backups. `None`: [`DEFAULT_BACKUP_EVERY`].
    pub backup_every_h: Option<u64>,
    /// How many scheduled backups to keep; older ones are deleted. `None`:
    /// [`DEFAULT_BACKUP_KEEP`].
    pub backup_keep: Option<usize>,
    /// Limits; see [`Limits`] for each default.
    pub limits: Option<FileLimits>,
}

/// A day between scheduled backups: a group meets weekly, so a day loses at most one meeting.
pub const DEFAULT_BACKUP_EVERY: Duration = Duration::from_secs(24 * 3600);
/// A week of daily backups: enough to go back before a mistake noticed at the next meeting.
pub const DEFAULT_BACKUP_KEEP: usize = 7;

/// Scheduled backups, when `backup_dir` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSchedule {
    pub dir: PathBuf,
    pub every: Duration,
    pub keep: usize,
}

impl FileConfig {
    fn backup_schedule(&self) -> Result<Option<BackupSchedule>, ConfigError> {
        let Some(dir) = self.backup_dir.clone() else {
            if self.backup_every_h.is_some() || self.backup_keep.is_some() {
                return Err(ConfigError::Backup(
                    "backup_every_h and backup_keep need backup_dir, the directory backups go to",
                ));
            }
            return Ok(None);
        };
        let every = match self.backup_every_h {
            Some(0) => return Err(ConfigError::Backup("backup_every_h must be above 0")),
            Some(h) => Duration::from_secs(h.saturating_mul(3600)),
            None => DEFAULT_BACKUP_EVERY,
        };
        let keep = match self.backup_keep {
            Some(0) => return Err(ConfigError::Backup("backup_keep must be above 0")),
            Some(n) => n,
            None => DEFAULT_BACKUP_KEEP,
        };
        Ok(Some(BackupSchedule { dir, every, keep }))
    }
}

/// The `[limits]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLimits {
    pub header_timeout_s: Option<u64>,
    pub request_timeout_s: Option<u64>,
    pub idle_timeout_s: Option<u64>,
    pub max_connections: Option<usize>,
    pub max_connections_per_address: Option<usize>,
    pub max_records_per_book: Option<usize>,
    pub max_book_mb: Option<u64>,
    pub disk_budget_mb: Option<u64>,
    pub book_idle_s: Option<u64>,
}

/// What the node accepts at most, and for how long. Every limit has a default sized for a
/// savings group's node on a small machine; the `[limits]` table changes any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub header_timeout: Duration,
    pub request_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_address: usize,
    pub max_records_per_book: usize,
    pub max_book_bytes: u64,
    pub disk_budget_bytes: u64,
    /// A book nobody asked for this long is let go from memory, and read back when asked for.
    pub book_idle: Duration,
}

const MB: u64 = 1024 * 1024;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
            max_connections_per_address: 32,
            // A group of 40 meeting weekly writes about 4,000 records a year.
            max_records_per_book: 1_000_000,
            max_book_bytes: 512 * MB,
            disk_budget_bytes: 16 * 1024 * MB,
            book_idle: Duration::from_secs(600),
        }
    }
}

impl FileLimits {
    fn apply(self) -> Result<Limits, ConfigError> {
        let d = Limits::default();
        let positive = |name: &'static str, v: Option<u64>, default: u64| match v {
            Some(0) => Err(ConfigError::Limit(name)),
            Some(v) => Ok(v),
            None => Ok(default),
        };
        let secs = Duration::as_secs;
        Ok(Limits {
            header_timeout: Duration::from_secs(positive(
                "header_timeout_s",
                self.header_timeout_s,
                secs(&d.header_timeout),
            )?),
            request_timeout: Duration::from_secs(positive(
                "request_timeout_s",
                self.request_timeout_s,
                secs(&d.request_timeout),
            )?),
            idle_timeout: Duration::from_secs(positive(
                "idle_timeout_s",
                self.idle_timeout_s,
                secs(&d.idle_timeout),
            )?),
            max_connections: positive(
                "max_connections",
                self.max_connections.map(|v| v as u64),
                d.max_connections as u64,
            )? as usize,
            max_connections_per_address: positive(
                "max_connections_per_address",
                self.max_connections_per_address.map(|v| v as u64),
                d.max_connections_per_address as u64,
            )? as usize,
            max_records_per_book: positive(
                "max_records_per_book",
                self.max_records_per_book.map(|v| v as u64),
                d.max_records_per_book as u64,
            )? as usize,
            max_book_bytes: positive("max_book_mb", self.max_book_mb, d.max_book_bytes / MB)? * MB,
            disk_budget_bytes: positive(
                "disk_budget_mb",
                self.disk_budget_mb,
                d.disk_budget_bytes / MB,
            )? * MB,
            book_idle: Duration::from_secs(positive(
                "book_idle_s",
                self.book_idle_s,
                secs(&d.book_idle),
            )?),
        })
    }
}

/// What flags say, overriding the file.
#[derive(Debug, Default)]
pub struct Flags {
    pub data_dir: Option<PathBuf>,
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    pub https_names: Vec<String>,
    pub listen: Vec<String>,
    pub no_mdns: bool,
    pub relay: bool,
    pub relay_peers: Vec<String>,
}

/// The configuration in force.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub http: SocketAddr,
    pub https: Option<SocketAddr>,
    pub https_names: Vec<String>,
    /// Extra origins for session signatures; see [`FileConfig::origins`].
    pub origins: Vec<String>,
    pub limits: Limits,
    pub log: String,
    pub p2p: crate::p2p::Options,
    /// `None`: no scheduled backups.
    pub backups: Option<BackupSchedule>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("listen address {0:?} is not a multiaddr like /ip4/0.0.0.0/tcp/8738")]
    Listen(String),
    #[error("relay peer {0:?} is not a PeerId like 12D3KooW…")]
    RelayPeer(String),
    #[error("origin {0:?} is not an origin like https://kaban.example.org")]
    Origin(String),
    #[error("limits.{0} must be above 0")]
    Limit(&'static str),
    #[error("{0}")]
    Backup(&'static str),
}

/// The default data directory.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("KABAN_DATA_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(dir).join("kaban");
    }
    match std::env::var_os("HOME") {
        Some(home) => PathBuf::from(home).join(".local/share/kaban"),
        None => PathBuf::from("kaban-data"),
    }
}

impl Config {
    /// Reads the file (if given), then lets flags override it.
    pub fn load(file: Option<&Path>, flags: Flags) -> Result<Config, ConfigError> {
        let parsed = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.to_owned(),
                    source,
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::Parse {
                    path: path.to_owned(),
                    message: e.to_string(),
                })?
            }
            None => FileConfig::default(),
        };
        let backups = parsed.backup_schedule()?;
        let listen = if flags.listen.is_empty() {
            parsed
                .listen
                .unwrap_or_else(|| DEFAULT_LISTEN.map(String::from).to_vec())
        } else {
            flags.listen
        };
        let listen = listen
            .into_iter()
            .map(|a| a.parse().map_err(|_| ConfigError::Listen(a)))
            .collect::<Result<_, _>>()?;
        let relay_peers = parsed
            .relay_peers
            .unwrap_or_default()
            .into_iter()
            .chain(flags.relay_peers)
            .map(|p| p.parse().map_err(|_| ConfigError::RelayPeer(p)))
            .collect::<Result<_, _>>()?;
        let origins = parsed
            .origins
            .unwrap_or_default()
            .into_iter()
            .map(|o| kaban_protocol::session::origin_of(&o).ok_or(ConfigError::Origin(o)))
            .collect::<Result<_, _>>()?;
        let limits = parsed.limits.unwrap_or_default().apply()?;
        Ok(Config {
            backups,
            origins,
            limits,
            p2p: crate::p2p::Options {
                listen,
                mdns: !flags.no_mdns && parsed.mdns.unwrap_or(true),
                relay: flags.relay || parsed.relay.unwrap_or(false),
                relay_peers,
            },
            data_dir: flags
                .data_dir
                .or(parsed.data_dir)
                .unwrap_or_else(default_data_dir),
            http: flags
                .http
                .or(parsed.http)
                .unwrap_or_else(|| DEFAULT_HTTP.parse().expect("the default address parses")),
            https: flags.https.or(parsed.https),
            https_names: parsed
                .https_names
                .unwrap_or_default()
                .into_iter()
                .chain(flags.https_names)
                .collect(),
            log: parsed
                .log
                .or_else(|| std::env::var("RUST_LOG").ok())
                .unwrap_or_else(|| "info".into()),
        })
    }
}

/// What the library may hold, from the configuration's `[limits]`.
impl From<&Limits> for crate::library::Caps {
    fn from(l: &Limits) -> crate::library::Caps {
        crate::library::Caps {
            max_records_per_book: l.max_records_per_book,
            max_book_bytes: l.max_book_bytes,
            disk_budget_bytes: l.disk_budget_bytes,
            book_idle: l.book_idle,
        }
    }
}

impl Default for crate::library::Caps {
    fn default() -> crate::library::Caps {
        crate::library::Caps::from(&Limits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kaban.toml");
        std::fs::write(&path, "data_dir = \"/x\"\nhttp = \"0.0.0.0:9000\"\n").unwrap();
        let flags = Flags {
            http: Some("127.0.0.1:1".parse().unwrap()),
            ..Flags::default()
        };
        let c = Config::load(Some(&path), flags).unwrap();
        let listen: Vec<String> = c.p2p.listen.iter().map(|a| a.to_string()).collect();
        assert_eq!(listen, DEFAULT_LISTEN);
        assert!(c.p2p.mdns && !c.p2p.relay);
        assert_eq!(c.data_dir, PathBuf::from("/x"));
        assert_eq!(c.http.port(), 1);
        std::fs::write(&path, "htp = \"0.0.0.0:9000\"\n").unwrap();
        let err = Config::load(Some(&path), Flags::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("htp"), "{err}");
    }

    #[test]
    fn scheduled_backups_have_defaults_and_refuse_what_cannot_work() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kaban.toml");
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Config::load(Some(&path), Flags::default())
        };
        assert_eq!(load("").unwrap().backups, None);
        let schedule = load("backup_dir = \"/b\"\n").unwrap().backups.unwrap();
        assert_eq!(schedule.dir, PathBuf::from("/b"));
        assert_eq!(schedule.every, DEFAULT_BACKUP_EVERY);
        assert_eq!(schedule.keep, DEFAULT_BACKUP_KEEP);
        let schedule = load("backup_dir = \"/b\"\nbackup_every_h = 6\nbackup_keep = 3\n")
            .unwrap()
            .backups
            .unwrap();
        assert_eq!((schedule.every.as_secs(), schedule.keep), (6 * 3600, 3));
        for (text, says) in [
            ("backup_every_h = 6\n", "need backup_dir"),
            (
                "backup_dir = \"/b\"\nbackup_every_h = 0\n",
                "backup_every_h must be above 0",
            ),
            (
                "backup_dir = \"/b\"\nbackup_keep = 0\n",
                "backup_keep must be above 0",
            ),
        ] {
            let err = load(text).unwrap_err().to_string();
            assert!(err.contains(says), "{text:?}: {err}");
        }
    }

    #[test]
    fn relay_mode_and_its_peers_come_from_file_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kaban.toml");
        let a = libp2p::PeerId::random();
        let b = libp2p::PeerId::random();
        std::fs::write(&path, format!("mdns = false\nrelay_peers = [\"{a}\"]\n")).unwrap();
        let flags = Flags {
            relay: true,
            relay_peers: vec![b.to_string()],
            ..Flags::default()
        };
        let c = Config::load(Some(&path), flags).unwrap();
        assert!(c.p2p.relay && !c.p2p.mdns);
        assert_eq!(c.p2p.relay_peers, vec![a, b]);
        let flags = Flags {
            relay_peers: vec!["not-a-peer".into()],
            ..Flags::default()
        };
        let err = Config::load(None, flags).unwrap_err().to_string();
        assert!(err.contains("not-a-peer"), "{err}");
    }
}
