-- general.db, schema 11: how to reach a patient, and who they are to the
-- health system (issue #16, item 10).
-- phone stays the column of the mobile number and phone2 of the home
-- phone (both replicated; only their labels change).
-- postcode: as typed, spacing normalised and upper case ("SW1A 1AA").
-- national_number: the public health identifier (NHS, Medicare, health
-- card, BSN… number), spacing normalised; an insurer's member number
-- stays in insurance.
-- sms_consent: 1 when the patient agreed to SMS reminders on the mobile
-- number; never 1 without one.
ALTER TABLE patients ADD COLUMN postcode TEXT NOT NULL DEFAULT '';
ALTER TABLE patients ADD COLUMN national_number TEXT NOT NULL DEFAULT '';
ALTER TABLE patients ADD COLUMN sms_consent INTEGER NOT NULL DEFAULT 0;
