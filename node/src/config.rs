//! Configuration: one TOML file plus a few flags, parsed and checked once.
//!
//! ```toml
//! # Where the database, the node key and the admin token live.
//! data_dir = "/var/lib/kaban"
//! # Where the HTTP API listens. Loopback by default; see the README to serve phones on a LAN.
//! http = "127.0.0.1:8737"
//! # The tracing filter, as in RUST_LOG.
//! log = "info"
//! ```

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The default HTTP address: loopback only, so a fresh node is never exposed by accident.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8737";

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
}

/// The configuration in force.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub http: SocketAddr,
    pub log: String,
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
        Ok(Config {
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
        let c = Config::load(Some(&path), None, Some("127.0.0.1:1".parse().unwrap())).unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/x"));
        assert_eq!(c.http.port(), 1);
        std::fs::write(&path, "htp = \"0.0.0.0:9000\"\n").unwrap();
        let err = Config::load(Some(&path), None, None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("htp"), "{err}");
    }
}
