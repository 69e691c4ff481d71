-- general.db, schema 9: an audit trail no insider can rewrite unseen.
--
-- Every computer publishes its audit entries to the sync folder (its own
-- stream, audit/<device>/, sealed under the general sync key, signed by
-- the computer and by the person signed in), and the head of every
-- computer's log it has seen (witness/<device>). What the other computers
-- received is kept here: a log truncated, edited or forked afterwards,
-- with the database key in hand, no longer matches it.
CREATE TABLE audit_remote (
    device     TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    user_id    TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    detail     TEXT NOT NULL,
    prev_hash  BLOB NOT NULL,
    hash       BLOB NOT NULL,
    PRIMARY KEY (device, seq)
);
CREATE INDEX audit_remote_at ON audit_remote(at);
-- The audit files of other computers already taken (a file appearing
-- later under an old name, or an old range, is a rewritten log).
CREATE TABLE audit_files (
    device  TEXT NOT NULL,
    name    TEXT NOT NULL,
    PRIMARY KEY (device, name)
);
-- The newest head of each computer's log that each witness published.
CREATE TABLE audit_witness (
    witness  TEXT NOT NULL,
    device   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    hash     BLOB NOT NULL,
    at       INTEGER NOT NULL,
    PRIMARY KEY (witness, device)
);
-- What did not match: a computer's log missing entries another computer
-- saw (truncated), or holding others in their place (rewritten).
CREATE TABLE audit_problems (
    device    TEXT NOT NULL,
    kind      TEXT NOT NULL,
    from_seq  INTEGER NOT NULL,
    to_seq    INTEGER NOT NULL,
    witness   TEXT NOT NULL,
    at        INTEGER NOT NULL,
    PRIMARY KEY (device, kind)
);
-- Replicated: the head of each computer's audit log (its newest entry's
-- number and hash), sent with that computer's batches, which its
-- computer and the person signed in sign. Only ever moves forward here
-- (the greatest number is kept): a computer's log may not shrink, nor
-- hold back entries it said it had.
CREATE TABLE audit_heads (
    id        TEXT PRIMARY KEY,   -- the computer
    seq       INTEGER NOT NULL DEFAULT 0,
    hash      BLOB NOT NULL DEFAULT x'',
    archived  INTEGER NOT NULL DEFAULT 0
);
-- Local: when this computer first heard of each head, to tell entries
-- on their way from entries held back.
CREATE TABLE audit_head_seen (
    device  TEXT NOT NULL,
    seq     INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    PRIMARY KEY (device, seq)
);
