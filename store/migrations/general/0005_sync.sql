-- general.db, schema 5: sync between the practice's machines.

-- Local to this machine (never replicated): its device keys, the sync
-- keys of each epoch, what it sent and what it received.
CREATE TABLE device_keys (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    device_id     TEXT NOT NULL,
    x25519_priv   BLOB NOT NULL,
    ed25519_seed  BLOB NOT NULL
);
CREATE TABLE sync_keys (
    epoch  INTEGER PRIMARY KEY,
    key    BLOB NOT NULL
);
CREATE TABLE sync_sent (
    seq          INTEGER PRIMARY KEY,
    class        TEXT NOT NULL,
    hash         BLOB NOT NULL,
    last_change  INTEGER NOT NULL,
    records      INTEGER NOT NULL,
    at           INTEGER NOT NULL
);
CREATE TABLE sync_received (
    device  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    class   TEXT NOT NULL,
    hash    BLOB NOT NULL,
    state   TEXT NOT NULL,       -- applied, sealed (clinical, waiting for a clinician), refused
    reason  TEXT NOT NULL DEFAULT '',
    at      INTEGER NOT NULL,
    PRIMARY KEY (device, seq)
);
CREATE TABLE sync_peers (
    device     TEXT PRIMARY KEY,
    last_seen  INTEGER NOT NULL DEFAULT 0,
    problem    TEXT NOT NULL DEFAULT ''
);

-- Replicated: the roster of devices, users' sync signing keys, and the
-- keyring's slots as opaque blobs so that staff sign in on every machine.
CREATE TABLE devices (
    id             TEXT PRIMARY KEY,
    name           TEXT NOT NULL DEFAULT '',
    x25519_pub     TEXT NOT NULL DEFAULT '',
    ed25519_pub    TEXT NOT NULL DEFAULT '',
    added_at       INTEGER NOT NULL DEFAULT 0,
    revoked_at     INTEGER,
    revoked_epoch  INTEGER NOT NULL DEFAULT 0,
    archived       INTEGER NOT NULL DEFAULT 0
);
ALTER TABLE users ADD COLUMN sign_pub TEXT NOT NULL DEFAULT '';
CREATE TABLE keyring_slots (
    id        TEXT PRIMARY KEY,
    slot      TEXT NOT NULL DEFAULT '',
    archived  INTEGER NOT NULL DEFAULT 0
);
-- The local change log holds each record once, so a batch delivered twice
-- changes nothing.
CREATE UNIQUE INDEX changes_once ON changes(hlc); -- an HLC reading names its device: unique
