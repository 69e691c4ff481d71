-- general.db, schema 1: practice settings, staff accounts, audit log.
CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- users mirrors the keyring's slots with what must be authenticated after
-- unlock: the role (the keyring's copy is only a hint until then), removal,
-- the last accepted TOTP step (RFC 6238 section 5.2) and a pending TOTP reset.
CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'clinician', 'receptionist')),
    created_at      INTEGER NOT NULL,
    removed_at      INTEGER,
    last_signin_at  INTEGER,
    last_totp_step  INTEGER NOT NULL DEFAULT 0,
    totp_reset      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX users_name ON users(name);

-- audit is append-only and hash-chained: hash = SHA-256 over a versioned
-- label, prev_hash and the row's fields. AUTOINCREMENT keeps the highest
-- seq ever issued in sqlite_sequence, so deleting the newest rows shows too.
CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,
    user_id    TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;
