-- clinical.db, schema 2: the clinical chart, and its own change log, so
-- that nothing clinical is ever written to general.db.
CREATE TABLE encounters (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL,
    seen_at     INTEGER NOT NULL,
    clinician_id TEXT NOT NULL,
    subjective  TEXT NOT NULL DEFAULT '',
    objective   TEXT NOT NULL DEFAULT '',
    assessment  TEXT NOT NULL DEFAULT '',
    plan        TEXT NOT NULL DEFAULT '',
    signed_at   INTEGER,
    signed_by   TEXT NOT NULL DEFAULT '',
    archived    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX encounters_patient ON encounters(patient_id, seen_at);

-- After sign-off a change is an addendum; the original stays as it was.
CREATE TABLE addenda (
    id           TEXT PRIMARY KEY,
    encounter_id TEXT NOT NULL,
    patient_id   TEXT NOT NULL,
    text         TEXT NOT NULL,
    author_id    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    archived     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX addenda_encounter ON addenda(encounter_id);

CREATE TABLE problems (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL,
    description TEXT NOT NULL,
    icd10       TEXT NOT NULL DEFAULT '',
    onset       TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'active',
    archived    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX problems_patient ON problems(patient_id);

CREATE TABLE allergies (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL,
    substance   TEXT NOT NULL,
    reaction    TEXT NOT NULL DEFAULT '',
    severity    TEXT NOT NULL DEFAULT '',
    archived    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX allergies_patient ON allergies(patient_id);

CREATE TABLE medications (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL,
    name        TEXT NOT NULL,
    dose        TEXT NOT NULL DEFAULT '',
    route       TEXT NOT NULL DEFAULT '',
    frequency   TEXT NOT NULL DEFAULT '',
    start_date  TEXT NOT NULL DEFAULT '',
    stop_date   TEXT NOT NULL DEFAULT '',
    archived    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX medications_patient ON medications(patient_id);

CREATE TABLE vitals (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL,
    taken_at    INTEGER NOT NULL,
    systolic    INTEGER,
    diastolic   INTEGER,
    pulse       INTEGER,
    temp_c      REAL,
    weight_kg   REAL,
    height_cm   REAL,
    spo2        INTEGER,
    archived    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX vitals_patient ON vitals(patient_id, taken_at);

CREATE TABLE documents (
    id          TEXT PRIMARY KEY,
    patient_id  TEXT NOT NULL,
    title       TEXT NOT NULL,
    mime        TEXT NOT NULL,
    size        INTEGER NOT NULL,
    content     BLOB NOT NULL,
    archived    INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX documents_patient ON documents(patient_id);

CREATE TABLE changes (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    hlc      TEXT NOT NULL,
    tbl      TEXT NOT NULL,
    row_id   TEXT NOT NULL,
    col      TEXT NOT NULL,
    value    TEXT,
    device   TEXT NOT NULL,
    author   TEXT NOT NULL
);
CREATE INDEX changes_row ON changes(tbl, row_id, col);
