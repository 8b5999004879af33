//! Frames of the `/kaban/sync/2` stream protocol, parsed from bytes without I/O.
//!
//! A peer-to-peer stream carries one book's sync session. Every frame is
//!
//! ```text
//! u32 big-endian length L | u8 version (2) | u8 type | payload (L - 2 bytes)
//! ```
//!
//! where L counts the version, type and payload bytes. The length is checked against
//! [`MAX_FRAME_BYTES`] before anything is buffered, so a peer cannot make a node allocate more.
//!
//! | type | frame | payload |
//! |------|-------|---------|
//! | 1 | `Open` | the 32-byte book id: the dialer asks to sync this book |
//! | 2 | `Sync` | one sync engine message ([`crate::sync`]) |
//! | 3 | `Close` | a UTF-8 reason, at most [`MAX_REASON_BYTES`] |
//!
//! A node that will not sync the named book answers `Close` with the same words whether the
//! book does not exist or is not shared with the dialer, so a peer cannot learn which books
//! exist.

use crate::record::{BookId, RecordId};
use crate::sync::MAX_MESSAGE_BYTES;

/// The libp2p stream protocol name.
pub const PROTOCOL: &str = "/kaban/sync/2";
/// The frame format version this build speaks: the protocol version (records version 2).
pub const FRAME_VERSION: u8 = 2;
/// The stream protocol of version 1. A node answers it only with [`refuse_version_1`].
pub const PROTOCOL_V1: &str = "/kaban/sync/1";

/// What a node says, in version 1's own framing, to a version-1 peer that opens a session: a
/// `Close` frame (version byte 1) naming both versions, which a version-1 node logs as the end
/// of its session.
pub fn refuse_version_1() -> Vec<u8> {
    let reason = b"this node speaks Kaban protocol version 2 (records v2, /kaban/sync/2); version 1 is not supported: upgrade this node";
    let mut out = Vec::with_capacity(6 + reason.len());
    out.extend_from_slice(&((reason.len() + 2) as u32).to_be_bytes());
    out.extend_from_slice(&[1, CLOSE]);
    out.extend_from_slice(reason);
    out
}
/// Largest frame length L: a sync message at its limit plus the header.
pub const MAX_FRAME_BYTES: usize = MAX_MESSAGE_BYTES + 2;
/// Longest close reason.
pub const MAX_REASON_BYTES: usize = 1024;

const OPEN: u8 = 1;
const SYNC: u8 = 2;
const CLOSE: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Open { book: BookId },
    Sync { message: Vec<u8> },
    Close { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {len} bytes exceeds the limit of {MAX_FRAME_BYTES}")]
    TooLarge { len: usize },
    #[error("frame is too short to hold a version and a type")]
    TooShort,
    #[error("frame version {0} is not supported; this node speaks version {FRAME_VERSION}")]
    Version(u8),
    #[error("frame type {0} is unknown")]
    Type(u8),
    #[error("open frame must carry a 32-byte book id, not {0} bytes")]
    OpenPayload(usize),
    #[error("close reason is not UTF-8 of at most {MAX_REASON_BYTES} bytes")]
    Reason,
}

impl Frame {
    fn payload_len(&self) -> usize {
        match self {
            Frame::Open { .. } => 32,
            Frame::Sync { message } => message.len(),
            Frame::Close { reason } => reason_end(reason),
        }
    }

    /// The number of bytes [`Frame::write_to`] appends.
    pub fn encoded_len(&self) -> usize {
        4 + 2 + self.payload_len()
    }

    /// Appends the encoded frame. A close reason is cut to [`MAX_REASON_BYTES`] at a character
    /// boundary.
    ///
    /// # Panics
    /// If a sync message exceeds [`MAX_MESSAGE_BYTES`]; the sync engine never produces one.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let (kind, payload): (u8, &[u8]) = match self {
            Frame::Open { book } => (OPEN, &book.0.0),
            Frame::Sync { message } => {
                assert!(
                    message.len() <= MAX_MESSAGE_BYTES,
                    "sync message over the limit"
                );
                (SYNC, message)
            }
            Frame::Close { reason } => (CLOSE, &reason.as_bytes()[..reason_end(reason)]),
        };
        out.reserve(6 + payload.len());
        out.extend_from_slice(&((payload.len() + 2) as u32).to_be_bytes());
        out.push(FRAME_VERSION);
        out.push(kind);
        out.extend_from_slice(payload);
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.write_to(&mut out);
        out
    }

    /// The length L announced by a frame header, checked against the limit. Call it on the
    /// first four bytes before reading the rest.
    pub fn announced_len(header: [u8; 4]) -> Result<usize, FrameError> {
        let len = u32::from_be_bytes(header) as usize;
        if len > MAX_FRAME_BYTES {
            return Err(FrameError::TooLarge { len });
        }
        if len < 2 {
            return Err(FrameError::TooShort);
        }
        Ok(len)
    }

    /// Parses one frame from the front of `buf`. Returns the frame and the bytes it used, or
    /// `None` if `buf` does not yet hold a whole frame.
    pub fn parse(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        let Some(header) = buf.get(..4) else {
            return Ok(None);
        };
        let len = Frame::announced_len(header.try_into().expect("four bytes"))?;
        let Some(body) = buf.get(4..4 + len) else {
            return Ok(None);
        };
        Ok(Some((Frame::from_body(body)?, 4 + len)))
    }

    /// Parses a frame's body: the L bytes after the length.
    pub fn from_body(body: &[u8]) -> Result<Frame, FrameError> {
        let [version, kind, payload @ ..] = body else {
            return Err(FrameError::TooShort);
        };
        if *version != FRAME_VERSION {
            return Err(FrameError::Version(*version));
        }
        match *kind {
            OPEN => {
                let id: [u8; 32] = payload
                    .try_into()
                    .map_err(|_| FrameError::OpenPayload(payload.len()))?;
                Ok(Frame::Open {
                    book: BookId(RecordId(id)),
                })
            }
            SYNC => Ok(Frame::Sync {
                message: payload.to_vec(),
            }),
            CLOSE => {
                if payload.len() > MAX_REASON_BYTES {
                    return Err(FrameError::Reason);
                }
                let reason = std::str::from_utf8(payload).map_err(|_| FrameError::Reason)?;
                Ok(Frame::Close {
                    reason: reason.to_owned(),
                })
            }
            other => Err(FrameError::Type(other)),
        }
    }
}

/// Where a close reason is cut: at most [`MAX_REASON_BYTES`], at a character boundary.
fn reason_end(reason: &str) -> usize {
    let mut end = reason.len().min(MAX_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_frame() -> impl Strategy<Value = Frame> {
        prop_oneof![
            any::<[u8; 32]>().prop_map(|b| Frame::Open {
                book: BookId(RecordId(b))
            }),
            prop::collection::vec(any::<u8>(), 0..2048).prop_map(|message| Frame::Sync { message }),
            "[^\u{0}]{0,200}".prop_map(|reason| Frame::Close { reason }),
        ]
    }

    proptest! {
        #[test]
        fn frames_round_trip_and_report_their_length(frame in arb_frame(), tail in prop::collection::vec(any::<u8>(), 0..16)) {
            let mut bytes = frame.to_bytes();
            prop_assert_eq!(bytes.len(), frame.encoded_len());
            let used = bytes.len();
            bytes.extend_from_slice(&tail);
            let (parsed, n) = Frame::parse(&bytes).unwrap().unwrap();
            prop_assert_eq!(parsed, frame);
            prop_assert_eq!(n, used);
            // Any strict prefix is incomplete, never an error.
            for cut in 0..used {
                prop_assert_eq!(Frame::parse(&bytes[..cut]).unwrap(), None);
            }
        }
    }

    #[test]
    fn a_version_1_peer_is_told_in_its_own_framing() {
        let bytes = refuse_version_1();
        let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert_eq!(len + 4, bytes.len());
        assert_eq!(&bytes[4..6], &[1, CLOSE]);
        let reason = std::str::from_utf8(&bytes[6..]).unwrap();
        assert!(reason.contains("version 2") && reason.contains("version 1 is not supported"));
        assert!(reason.len() <= MAX_REASON_BYTES);
        // A version 1 frame on the version 2 protocol is refused, naming both versions.
        let err = Frame::parse(&bytes).unwrap_err();
        assert_eq!(err, FrameError::Version(1));
        assert!(err.to_string().contains("this node speaks version 2"));
    }

    #[test]
    fn refuses_oversized_unknown_and_malformed_frames() {
        let huge = ((MAX_FRAME_BYTES + 1) as u32).to_be_bytes();
        assert_eq!(
            Frame::parse(&huge),
            Err(FrameError::TooLarge {
                len: MAX_FRAME_BYTES + 1
            })
        );
        assert_eq!(Frame::parse(&[0, 0, 0, 1, 1]), Err(FrameError::TooShort));
        assert_eq!(
            Frame::parse(&[0, 0, 0, 2, 9, 2]),
            Err(FrameError::Version(9))
        );
        assert_eq!(Frame::parse(&[0, 0, 0, 2, 2, 7]), Err(FrameError::Type(7)));
        assert_eq!(
            Frame::parse(&[0, 0, 0, 3, 2, 1, 0]),
            Err(FrameError::OpenPayload(1))
        );
        assert_eq!(
            Frame::parse(&[0, 0, 0, 3, 2, 3, 0xff]),
            Err(FrameError::Reason)
        );
        let long = Frame::Close {
            reason: "é".repeat(MAX_REASON_BYTES),
        }
        .to_bytes();
        let (Frame::Close { reason }, _) = Frame::parse(&long).unwrap().unwrap() else {
            panic!("not a close frame")
        };
        assert!(reason.len() <= MAX_REASON_BYTES && reason.chars().skip(1).all(|c| c == 'é'));
    }
}
