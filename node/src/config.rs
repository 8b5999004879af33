//! Configuration: one TOML file plus a few flags, parsed and checked once.
//!
//! ```toml
//! # Where the database, the node key and the admin token live.
//! data_dir = "/var/lib/kaban"
//! # Where the HTTP API listens. Loopback by default; see the README to serve phones on a LAN.
//! http = "127.0.0.1:8737"
//! # The tracing filter, as in RUST_LOG.
//! log = "info"
//! # Where partner nodes reach this one (libp2p multiaddrs).
//! listen = ["/ip4/0.0.0.0/tcp/8738"]
//! ```

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The default HTTP address: loopback only, so a fresh node is never exposed by accident.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8737";

/// The default peer-to-peer address: every interface, TCP port 8738. Partners must reach it;
/// connections are encrypted and authenticated (noise), and books flow only to peers named by
/// signed share records.
pub const DEFAULT_LISTEN: &str = "/ip4/0.0.0.0/tcp/8738";

/// The configuration file as written. Every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// `None`: `$KABAN_DATA_DIR`, else `$XDG_DATA_HOME/kaban`, else `~/.local/share/kaban`.
    pub data_dir: Option<PathBuf>,
    /// `None`: [`DEFAULT_HTTP`].
    pub http: Option<SocketAddr>,
    /// `None`: `info`, or `$RUST_LOG` when set.
    pub log: Option<String>,
    /// `None`: [`DEFAULT_LISTEN`].
    pub listen: Option<Vec<String>>,
}

/// The configuration in force.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub http: SocketAddr,
    pub log: String,
    pub listen: Vec<libp2p::Multiaddr>,
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
    pub fn load(
        file: Option<&Path>,
        data_dir: Option<PathBuf>,
        http: Option<SocketAddr>,
        listen: Vec<String>,
    ) -> Result<Config, ConfigError> {
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
        let listen = if listen.is_empty() {
            parsed
                .listen
                .unwrap_or_else(|| vec![DEFAULT_LISTEN.to_owned()])
        } else {
            listen
        };
        let listen = listen
            .into_iter()
            .map(|a| a.parse().map_err(|_| ConfigError::Listen(a)))
            .collect::<Result<_, _>>()?;
        Ok(Config {
            listen,
            data_dir: data_dir
                .or(parsed.data_dir)
                .unwrap_or_else(default_data_dir),
            http: http
                .or(parsed.http)
                .unwrap_or_else(|| DEFAULT_HTTP.parse().expect("the default address parses")),
            log: parsed
                .log
                .or_else(|| std::env::var("RUST_LOG").ok())
                .unwrap_or_else(|| "info".into()),
        })
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
        let c = Config::load(
            Some(&path),
            None,
            Some("127.0.0.1:1".parse().unwrap()),
            vec![],
        )
        .unwrap();
        assert_eq!(c.listen[0].to_string(), DEFAULT_LISTEN);
        assert_eq!(c.data_dir, PathBuf::from("/x"));
        assert_eq!(c.http.port(), 1);
        std::fs::write(&path, "htp = \"0.0.0.0:9000\"\n").unwrap();
        let err = Config::load(Some(&path), None, None, vec![])
            .unwrap_err()
            .to_string();
        assert!(err.contains("htp"), "{err}");
    }
}
