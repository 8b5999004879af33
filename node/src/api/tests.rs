//! API tests through `router(...).oneshot(...)`, on a real SQLite file in a temporary directory.
