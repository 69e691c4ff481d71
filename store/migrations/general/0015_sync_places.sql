-- general.db, schema 15 (issue #19): a computer may sync through more
-- than one place (the shared folder at the front desk, a relay for the
-- laptops), and a relay is a cache that can lose what it held. So this
-- computer keeps every batch and every epoch file it wrote, with their
-- bytes, and remembers for each place how far it has delivered them
-- (and its audit entries). A place found lacking this computer's own
-- batches gets everything again.
CREATE TABLE sync_log (
    seq  INTEGER PRIMARY KEY,
    env  BLOB NOT NULL
);
INSERT INTO sync_log (seq, env) SELECT seq, env FROM sync_outbox;
CREATE TABLE epoch_files (
    n     INTEGER PRIMARY KEY AUTOINCREMENT,
    path  TEXT NOT NULL UNIQUE,     -- epochs/<n>/…
    data  BLOB NOT NULL
);
INSERT INTO epoch_files (path, data) SELECT path, data FROM epoch_outbox ORDER BY path;
CREATE TABLE sync_places (
    place        TEXT PRIMARY KEY, -- folder:<path> or relay:<url>
    batches      INTEGER NOT NULL DEFAULT 0, -- sync_log delivered up to
    epoch_files  INTEGER NOT NULL DEFAULT 0, -- epoch_files.n delivered up to
    audit        INTEGER NOT NULL DEFAULT 0, -- audit entries published up to
    at           INTEGER NOT NULL DEFAULT 0  -- last pass
);
