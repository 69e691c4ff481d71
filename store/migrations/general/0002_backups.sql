-- general.db, schema 2: the log of backups this vault made and verified.
CREATE TABLE backups (
    file         TEXT PRIMARY KEY,
    created_at   INTEGER NOT NULL,
    size         INTEGER NOT NULL,
    verified_at  INTEGER,
    ok           INTEGER NOT NULL DEFAULT 0,
    detail       TEXT NOT NULL DEFAULT ''
);
