-- clinical.db, schema 6: the appointment a note was written for (empty
-- when it was written outside a visit). The appointment lives in
-- general.db; only its id is kept here.
ALTER TABLE encounters ADD COLUMN appointment_id TEXT NOT NULL DEFAULT '';
