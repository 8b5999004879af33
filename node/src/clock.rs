//! The node's one clock: the wall-clock time that records, checkpoints and setup codes carry.
//! The protocol takes time as an argument; this is where the node reads it.

/// Milliseconds since the Unix epoch; 0 if the system clock is set before it.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
