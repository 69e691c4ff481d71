-- clinical.db, schema 5: an allergy, medication or problem recorded by
-- mistake is marked "entered in error" with the reason: it leaves the
-- chart's lists and the allergy check, and stays in its history.
ALTER TABLE allergies ADD COLUMN entered_in_error TEXT NOT NULL DEFAULT '';
ALTER TABLE medications ADD COLUMN entered_in_error TEXT NOT NULL DEFAULT '';
ALTER TABLE problems ADD COLUMN entered_in_error TEXT NOT NULL DEFAULT '';
