-- Books: one row each. `snapshot` is a compacted automerge save; the changes made since are in
-- `changes`. `actor` is the automerge actor id this node writes the book with.
CREATE TABLE books (
    id TEXT PRIMARY KEY,
    actor BLOB NOT NULL,
    snapshot BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);

-- Changes appended since the snapshot, in the order they were accepted.
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    book TEXT NOT NULL REFERENCES books(id),
    bytes BLOB NOT NULL
);
CREATE INDEX changes_by_book ON changes(book, seq);

-- Members' personal data. Local to this node: never synced, never in a book, erasable.
CREATE TABLE personal (
    book TEXT NOT NULL,
    member TEXT NOT NULL,
    full_name TEXT,
    phone TEXT,
    notes TEXT,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (book, member)
);
