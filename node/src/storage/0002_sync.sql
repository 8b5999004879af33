-- Sync checkpoints, one per (book, peer): the automerge sync state's encoding, written only
-- after the changes received up to it are durable, so a restart resumes without resending
-- the book.
CREATE TABLE sync_state (
    book TEXT NOT NULL,
    peer TEXT NOT NULL,
    state BLOB NOT NULL,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (book, peer)
);
