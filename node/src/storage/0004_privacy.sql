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
