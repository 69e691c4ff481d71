-- clinical.db, schema 4: a medication prescribed despite a recorded
-- allergy keeps the clinician's reason (the override is also audited).
ALTER TABLE medications ADD COLUMN allergy_override TEXT NOT NULL DEFAULT '';
