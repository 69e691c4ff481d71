-- clinical.db, schema 3: the clinical sync keys of each epoch, kept where
-- only the clinical key opens them.
CREATE TABLE sync_keys (
    epoch  INTEGER PRIMARY KEY,
    key    BLOB NOT NULL
);
CREATE UNIQUE INDEX changes_once ON changes(hlc); -- an HLC reading names its device: unique
