-- general.db, schema 3: patients, appointments, the change log.
-- Replicated tables have no UNIQUE or foreign-key constraints: two
-- machines may create the same patient while apart, and the duplicate
-- workflow joins them. Nothing is deleted; records are archived.
CREATE TABLE patients (
    id                TEXT PRIMARY KEY,       -- UUIDv7
    mrn               TEXT NOT NULL,
    given             TEXT NOT NULL,
    family            TEXT NOT NULL,
    preferred         TEXT NOT NULL DEFAULT '',
    dob               TEXT NOT NULL,          -- YYYY-MM-DD
    sex               TEXT NOT NULL DEFAULT '',
    phone             TEXT NOT NULL DEFAULT '',
    phone2            TEXT NOT NULL DEFAULT '',
    email             TEXT NOT NULL DEFAULT '',
    address           TEXT NOT NULL DEFAULT '',
    insurance         TEXT NOT NULL DEFAULT '',
    emergency_contact TEXT NOT NULL DEFAULT '',
    admin_notes       TEXT NOT NULL DEFAULT '',
    archived          INTEGER NOT NULL DEFAULT 0,
    merged_into       TEXT NOT NULL DEFAULT '',
    phone_key         TEXT NOT NULL DEFAULT '',   -- digits of phone, local (not replicated)
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX patients_mrn ON patients(mrn);
CREATE INDEX patients_dob ON patients(dob);
CREATE INDEX patients_phone_key ON patients(phone_key) WHERE phone_key != '';

-- Full-text index over what a receptionist types: names (with diacritics
-- folded, so jose finds José), MRN, phone digits and date of birth in
-- ISO form. docid = patients.rowid.
CREATE VIRTUAL TABLE patients_fts USING fts4(
    names, mrn, phone, dob,
    tokenize=unicode61 "remove_diacritics=1",
    prefix="1,2,3"
);

CREATE TABLE appointments (
    id             TEXT PRIMARY KEY,
    patient_id     TEXT NOT NULL,
    start_at       INTEGER NOT NULL,   -- Unix seconds
    minutes        INTEGER NOT NULL,
    clinician_id   TEXT NOT NULL,
    reason         TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'booked',
    archived       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX appointments_start ON appointments(start_at);
CREATE INDEX appointments_patient ON appointments(patient_id);

-- The change log: one record per changed column, in the order written.
-- Sync sends these; the hybrid-logical-clock timestamp orders them.
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
