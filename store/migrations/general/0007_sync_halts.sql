-- general.db, schema 7: a refused batch is never an anchor.
--
-- Until schema 6 a refused batch was recorded in sync_received like an
-- applied one, so the next batch was judged against the refused file's
-- hash (refused as a fork) and the one after it was applied: a folder
-- writer could drop changes for good. From schema 7 the log of a device
-- halts at the batch this computer refused (sync_halts) and nothing after
-- it is applied; each pass judges the file in that place again, so the
-- genuine batch, once back, is applied and the log goes on.
CREATE TABLE sync_halts (
    device  TEXT PRIMARY KEY,
    seq     INTEGER NOT NULL,      -- the place in the device's log
    hash    BLOB NOT NULL,         -- SHA-256 of the refused file
    kind    TEXT NOT NULL,         -- why, as a ProblemKind
    reason  TEXT NOT NULL,
    at      INTEGER NOT NULL
);
-- The format version of each received batch: once a device's log has a
-- batch signed by the device (version 3), an unsigned one after it is a
-- forgery.
ALTER TABLE sync_received ADD COLUMN version INTEGER NOT NULL DEFAULT 2;
-- Refusals recorded as anchors by earlier versions are judged again.
DELETE FROM sync_received WHERE state = 'refused';
