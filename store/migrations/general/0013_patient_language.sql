-- general.db, schema 13: the patient's preferred language, as typed
-- ("Polish"), so that the desk books an interpreter (issue #14, item 4).
ALTER TABLE patients ADD COLUMN language TEXT NOT NULL DEFAULT '';
