-- general.db, schema 4: access governance and staff training.

-- A restricted chart opens only for the named clinicians; anyone else must
-- use emergency access, which is recorded for an admin's review.
CREATE TABLE chart_restrictions (
    id            TEXT PRIMARY KEY,
    patient_id    TEXT NOT NULL,
    clinician_id  TEXT NOT NULL,
    added_by      TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    archived      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX chart_restrictions_patient ON chart_restrictions(patient_id);

CREATE TABLE emergency_access (
    id           TEXT PRIMARY KEY,
    patient_id   TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    reason       TEXT NOT NULL,
    at           INTEGER NOT NULL,
    reviewed_by  TEXT NOT NULL DEFAULT '',
    reviewed_at  INTEGER,
    review_note  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX emergency_access_pending ON emergency_access(reviewed_at);

CREATE TABLE training_completions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL,
    lesson       TEXT NOT NULL,
    score        INTEGER NOT NULL,   -- percent
    passed       INTEGER NOT NULL,
    completed_at INTEGER NOT NULL
);
CREATE INDEX training_user ON training_completions(user_id, lesson);

-- The machine a user last signed in on, for the access review.
ALTER TABLE users ADD COLUMN last_device TEXT NOT NULL DEFAULT '';
