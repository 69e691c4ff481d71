-- general.db, schema 12: a computer's current sync problem, typed (issue
-- #14, item 2). The window words it from these (which batch, which key
-- epoch, how far a clock runs ahead) instead of reading problem's English.
ALTER TABLE sync_peers ADD COLUMN problem_kind TEXT NOT NULL DEFAULT '';
ALTER TABLE sync_peers ADD COLUMN problem_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_peers ADD COLUMN problem_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_peers ADD COLUMN problem_wait_ms INTEGER NOT NULL DEFAULT 0;
