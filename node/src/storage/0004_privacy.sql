-- When each member's personal data was first stored, so that erasing it can name the backups
-- made since, which still hold it.
ALTER TABLE personal ADD COLUMN created_ms INTEGER;
UPDATE personal SET created_ms = updated_ms;
-- Backups written by this node: where, when, and how many members' personal data each holds.
CREATE TABLE backups (
    path TEXT PRIMARY KEY,
    made_ms INTEGER NOT NULL,
    personal_rows INTEGER NOT NULL
);
-- Whether a book came in with the node's authority: founded with the admin token or a setup
-- code, or joined from a partner by the operator. Books stored before founding needed authority
-- are 0: one of them may be a stranger's, which the operator may remove.
ALTER TABLE books ADD COLUMN authorised INTEGER NOT NULL DEFAULT 0;
