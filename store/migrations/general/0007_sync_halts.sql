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
-- The newest record time taken from each log and class: a device's clock
-- only moves forward, so a batch dated before it is a backdated forgery.
ALTER TABLE sync_received ADD COLUMN max_hlc TEXT NOT NULL DEFAULT '';
-- Refusals recorded as anchors by earlier versions, and everything taken
-- after them, are judged again (applying a batch twice changes nothing).
DELETE FROM sync_received WHERE EXISTS (SELECT 1 FROM sync_received r
    WHERE r.device = sync_received.device AND r.state = 'refused' AND r.seq <= sync_received.seq);
-- Key-epoch files waiting to be written to the sync folder: a departure
-- starts a new epoch at once, sealed to each remaining person, even when
-- the folder cannot be reached; every pass writes what waits here.
CREATE TABLE epoch_outbox (
    path  TEXT PRIMARY KEY,         -- epochs/<n>/u-<user id>
    data  BLOB NOT NULL
);
-- This computer's batches, recorded with their bytes before they are
-- written to the folder and deleted once written: a kill in between
-- leaves a batch to write again, never a file to guess about.
CREATE TABLE sync_outbox (
    seq  INTEGER PRIMARY KEY,
    env  BLOB NOT NULL
);
-- Replicated: each clinical database key that was replaced at a
-- departure, sealed under the key that replaced it (id names that newer
-- key). A computer whose clinical.db is still under an older key walks
-- back from the key a clinician's grant gives, and re-keys the file.
CREATE TABLE clinical_key_chain (
    id        TEXT PRIMARY KEY,
    prev_box  BLOB NOT NULL DEFAULT x'',
    archived  INTEGER NOT NULL DEFAULT 0
);
-- Who made each key epoch: an epoch made by someone who is no longer an
-- active admin is never the one new batches are sealed under.
ALTER TABLE sync_keys ADD COLUMN made_by TEXT NOT NULL DEFAULT '';
-- A keyring slot replicates in two parts that change independently, so
-- that changes made apart merge (last writer wins per column): what its
-- owner changes (passphrase, authenticator: the slot column) and what an
-- admin changes (role and grants: this column, JSON; empty in rows of
-- earlier versions, whose slot column holds both).
ALTER TABLE keyring_slots ADD COLUMN grants TEXT NOT NULL DEFAULT '';
-- Local (never replicated): this computer's clinical database key, sealed
-- to each clinician and admin as their grants are, written whenever the
-- key of this computer's clinical.db changes. When two admins changed the
-- clinical key while apart, a person's grant may name the other key:
-- their sign-in here still opens clinical.db, and moves it to that key.
CREATE TABLE clinical_key_escrow (
    user_id  TEXT PRIMARY KEY,
    role     TEXT NOT NULL,
    box      BLOB NOT NULL
);
