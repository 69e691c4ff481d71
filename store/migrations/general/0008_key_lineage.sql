-- general.db, schema 8: the lineage of database keys, and the general
-- key's own.
--
-- Replicated: each key that replaced others names them in clear
-- (supersedes, space-separated ids), so that a computer tells an old key
-- from a new one, and sees two keys two admins made apart, without
-- holding them; the replaced keys its maker held beyond the first are
-- sealed under it in more_boxes (JSON list, base64). made_by is the admin.
ALTER TABLE clinical_key_chain ADD COLUMN supersedes TEXT NOT NULL DEFAULT '';
ALTER TABLE clinical_key_chain ADD COLUMN more_boxes TEXT NOT NULL DEFAULT '';
ALTER TABLE clinical_key_chain ADD COLUMN made_by TEXT NOT NULL DEFAULT '';
-- The people its maker knew as removed (space-separated user ids): no
-- computer grants this key, or any that replaces it, to them — not even
-- one that has not yet heard of their removal itself.
ALTER TABLE clinical_key_chain ADD COLUMN removed TEXT NOT NULL DEFAULT '';
-- The same for general.db's key, which changes when someone leaves or a
-- computer is revoked.
CREATE TABLE general_key_chain (
    id          TEXT PRIMARY KEY,
    prev_box    BLOB NOT NULL DEFAULT x'',
    supersedes  TEXT NOT NULL DEFAULT '',
    more_boxes  TEXT NOT NULL DEFAULT '',
    made_by     TEXT NOT NULL DEFAULT '',
    removed     TEXT NOT NULL DEFAULT '',
    archived    INTEGER NOT NULL DEFAULT 0
);
-- Local (never replicated): each time this computer moved one of its
-- databases from one key to another, the old key sealed under the new
-- one, so that its own backups made before still open.
CREATE TABLE key_history (
    kind    TEXT NOT NULL,   -- general | clinical
    id      TEXT NOT NULL,   -- the newer key
    old_id  TEXT NOT NULL,
    box     BLOB NOT NULL,
    PRIMARY KEY (kind, id, old_id)
);
