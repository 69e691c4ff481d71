-- general.db, schema 14: why a backup's last verification failed, typed
-- (issue #14, item 2): 'damaged' when the file did not authenticate, ''
-- otherwise. The window words it from this, not from detail's English.
ALTER TABLE backups ADD COLUMN verify_kind TEXT NOT NULL DEFAULT '';
