-- general.db, schema 10: the day book.
-- users.bookable: whether the person sees patients and is offered when
-- booking. NULL means "by role": clinicians are, admins (the practice
-- manager) are not unless marked so. Admins who already have
-- appointments keep being offered.
ALTER TABLE users ADD COLUMN bookable INTEGER;
UPDATE users SET bookable = 1 WHERE role = 'admin' AND id IN (SELECT clinician_id FROM appointments);

-- Why an appointment was cancelled, as the front desk typed it.
ALTER TABLE appointments ADD COLUMN cancel_reason TEXT NOT NULL DEFAULT '';
