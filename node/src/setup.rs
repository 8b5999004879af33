//! One-time setup codes: the authority to found a book over HTTP without the admin token.
//!
//! A node prints a code when it starts with no books, and `kaban-node setup-code` prints a
//! fresh one at any time. A client (`kaban book create --setup-code`) sends it with the
//! genesis record. A code has 80 random bits, is good for one founding and for [`SETUP_CODE_TTL`], and
//! only at the node whose data directory holds it: each code is a file in `setup-codes/`
//! (directory 0700, files 0600) named by the SHA-256 of the code and holding its expiry, so
//! the codes themselves are never stored, and redeeming one is a single atomic `unlink`, safe
//! between the node and a `setup-code` command running beside it.

use anyhow::Context as _;
use sha2::Digest as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a setup code may be used.
pub const SETUP_CODE_TTL: Duration = Duration::from_secs(60 * 60);
/// The directory, in the data directory, that holds the live codes' hashes.
pub const SETUP_CODES_DIR: &str = "setup-codes";
/// Most live codes; issuing another drops the one that expires first.
pub const MAX_SETUP_CODES: usize = 16;
/// Crockford's base32 alphabet: no I, L, O or U, so a code read aloud or typed is unambiguous.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code: 16 × 5 = 80 random bits.
const CODE_CHARS: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SetupError {
    #[error(
        "setup code {0:?} is not a code: a setup code is 16 letters and digits, like K7QM-3XJD-9PWE-TR2A"
    )]
    Malformed(String),
    #[error(
        "this setup code is unknown, used or expired; print a fresh one with `kaban-node setup-code` on the node"
    )]
    Unknown,
}

#[derive(Debug, Clone)]
pub struct SetupCodes {
    dir: PathBuf,
}

/// A code as its holder types it: upper case, without dashes or spaces.
fn normalise(code: &str) -> Result<String, SetupError> {
    let clean: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if clean.len() != CODE_CHARS || !clean.bytes().all(|b| ALPHABET.contains(&b)) {
        let shown: String = code.chars().take(32).collect();
        return Err(SetupError::Malformed(shown));
    }
    Ok(clean)
}

fn file_name(clean: &str) -> String {
    sha2::Sha256::digest(clean.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl SetupCodes {
    pub fn new(data_dir: &Path) -> SetupCodes {
        SetupCodes {
            dir: data_dir.join(SETUP_CODES_DIR),
        }
    }

    /// Makes a fresh code, good until `now_ms` + [`SETUP_CODE_TTL`]. Returns it grouped by four
    /// characters for reading.
    pub fn issue(&self, now_ms: u64) -> anyhow::Result<String> {
        crate::files::private_dir(&self.dir)?;
        let mut live = self.live(now_ms)?;
        live.sort_by_key(|(_, expires)| *expires);
        while live.len() >= MAX_SETUP_CODES {
            let (path, _) = live.remove(0);
            let _ = std::fs::remove_file(path);
        }
        let mut random = [0u8; CODE_CHARS];
        getrandom::fill(&mut random).expect("the operating system provides randomness");
        let clean: String = random
            .iter()
            .map(|b| ALPHABET[usize::from(b & 31)] as char)
            .collect();
        let expires = now_ms.saturating_add(SETUP_CODE_TTL.as_millis() as u64);
        write_code(&self.dir.join(file_name(&clean)), expires)?;
        let grouped: Vec<&str> = (0..CODE_CHARS)
            .step_by(4)
            .map(|i| &clean[i..i + 4])
            .collect();
        Ok(grouped.join("-"))
    }

    /// The live codes' files and expiries; expired ones are removed on the way.
    fn live(&self, now_ms: u64) -> anyhow::Result<Vec<(PathBuf, u64)>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e).with_context(|| format!("reading {}", self.dir.display())),
        };
        for entry in entries {
            let entry = entry?;
            // A code being written is a hidden temporary file until it is renamed in place.
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            let expires = std::fs::read_to_string(&path)
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok());
            match expires {
                Some(e) if e > now_ms => out.push((path, e)),
                _ => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(out)
    }

    /// Uses up `code`. Returns a guard that puts the code back if it is dropped without
    /// [`Redeemed::keep`], so a code sent with a genesis that is refused can be used again.
    pub fn redeem(&self, code: &str, now_ms: u64) -> Result<Redeemed, SetupError> {
        let path = self.dir.join(file_name(&normalise(code)?));
        let expires = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok())
            .ok_or(SetupError::Unknown)?;
        // The unlink is the redemption: of two concurrent uses, one removes the file.
        std::fs::remove_file(&path).map_err(|_| SetupError::Unknown)?;
        if expires <= now_ms {
            return Err(SetupError::Unknown);
        }
        Ok(Redeemed {
            path: Some((path, expires)),
        })
    }
}

/// A code taken out of use; see [`SetupCodes::redeem`].
#[derive(Debug)]
pub struct Redeemed {
    path: Option<(PathBuf, u64)>,
}

impl Redeemed {
    /// The founding it authorised is durable: the code is spent for good.
    pub fn keep(mut self) {
        self.path = None;
    }
}

impl Drop for Redeemed {
    fn drop(&mut self) {
        if let Some((path, expires)) = self.path.take() {
            let _ = write_code(&path, expires);
        }
    }
}

/// Writes a code's file whole or not at all: a temporary file renamed in place, so that a
/// `live()` running beside it never sees an empty file and takes it for a dead code.
fn write_code(path: &std::path::Path, expires: u64) -> anyhow::Result<()> {
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).expect("the operating system provides randomness");
    let tmp = path.with_file_name(format!(".tmp-{}", u64::from_le_bytes(random)));
    crate::files::write_private(&tmp, expires.to_string().as_bytes())?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// The code as a QR code in text, for a phone's camera.
pub fn qr_text(code: &str) -> String {
    qrcode::QrCode::with_error_correction_level(code, qrcode::EcLevel::M)
        .map(|qr| {
            qr.render::<qrcode::render::unicode::Dense1x2>()
                .dark_color(qrcode::render::unicode::Dense1x2::Light)
                .light_color(qrcode::render::unicode::Dense1x2::Dark)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_good_once_within_its_hour_at_its_own_node() {
        let dir = tempfile::tempdir().unwrap();
        let codes = SetupCodes::new(dir.path());
        let code = codes.issue(1_000).unwrap();
        assert_eq!(code.len(), 19, "{code}");
        // Typed in lower case and without dashes, it is the same code.
        let typed = code.replace('-', "").to_lowercase();
        codes.redeem(&typed, 2_000).unwrap().keep();
        assert_eq!(codes.redeem(&code, 2_000).unwrap_err(), SetupError::Unknown);

        // Refused foundings put the code back.
        let code = codes.issue(1_000).unwrap();
        drop(codes.redeem(&code, 2_000).unwrap());
        codes.redeem(&code, 2_000).unwrap().keep();

        // Expired, and another node's.
        let code = codes.issue(1_000).unwrap();
        let late = 1_000 + SETUP_CODE_TTL.as_millis() as u64;
        assert_eq!(codes.redeem(&code, late).unwrap_err(), SetupError::Unknown);
        let other = tempfile::tempdir().unwrap();
        let code = codes.issue(1_000).unwrap();
        assert_eq!(
            SetupCodes::new(other.path())
                .redeem(&code, 2_000)
                .unwrap_err(),
            SetupError::Unknown
        );
        assert!(matches!(
            codes.redeem("../../etc/passwd", 2_000),
            Err(SetupError::Malformed(_))
        ));
    }

    #[test]
    fn codes_are_bounded_and_stored_only_as_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let codes = SetupCodes::new(dir.path());
        let issued: Vec<String> = (0..MAX_SETUP_CODES + 3)
            .map(|i| codes.issue(1_000 + i as u64).unwrap())
            .collect();
        let files: Vec<_> = std::fs::read_dir(dir.path().join(SETUP_CODES_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(files.len(), MAX_SETUP_CODES);
        for code in &issued {
            assert!(!files.iter().any(|f| f.contains(&code.replace('-', ""))));
        }
        // The newest is live; the first ones made room.
        codes.redeem(issued.last().unwrap(), 2_000).unwrap().keep();
        assert!(codes.redeem(&issued[0], 2_000).is_err());
    }
}
