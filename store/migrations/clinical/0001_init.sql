-- clinical.db, schema 1. The clinical tables (encounters, problems,
-- allergies, medications, vitals, documents) arrive with the patient-records
-- work; this first schema only marks the file as ClinicVault's.
CREATE TABLE meta (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
