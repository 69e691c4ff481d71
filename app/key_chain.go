package app

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"

	"github.com/clinicvault/clinicvault/store"
)

// The lineage of a database key (general or clinical). Each key that
// replaces others at a departure has a replicated row in its line's
// table, named by the new key's id: the ids of the keys it replaces, in
// clear (so that any computer can tell old from new, and see two keys
// made apart, without holding either), and the replaced keys its maker
// held, sealed under the new key (so that backups made before the change
// still open). A computer that moves its own file from one key to another
// keeps the same kind of link locally (key_history), for its own backups.

// keyLine is one database's key lineage.
type keyLine struct {
	kind       store.Kind
	table      string
	idLabel    string
	chainLabel string
}

var (
	generalLine  = keyLine{store.General, "general_key_chain", store.LabelGeneralKeyID, store.LabelGeneralKeyChain}
	clinicalLine = keyLine{store.Clinical, "clinical_key_chain", store.LabelClinicalKeyID, store.LabelClinicalKeyChain}
)

// id names a key without revealing it.
func (l keyLine) id(key []byte) string {
	h := sha256.Sum256(append([]byte(l.idLabel), key...))
	return hex.EncodeToString(h[:16])
}

// boxKey is the key under which newer seals the keys it replaced.
func (l keyLine) boxKey(newer []byte) ([]byte, error) {
	return store.DeriveKey(newer, nil, l.chainLabel, 32)
}

// record writes, within tx, the row of newKey: it replaces the keys in
// replaced (held, sealed under newKey) and every id in supersedes (seen
// but not held: keys made apart). Admins only; the row replicates.
func (s *Session) recordKey(ctx context.Context, tx *sql.Tx, l keyLine, newKey []byte, replaced [][]byte, supersedes []string) error {
	bk, err := l.boxKey(newKey)
	if err != nil {
		return err
	}
	defer store.Zero(bk)
	ids := map[string]bool{}
	for _, id := range supersedes {
		ids[id] = true
	}
	var boxes []string
	var first []byte
	for i, k := range replaced {
		ids[l.id(k)] = true
		box := store.SealBox(bk, k, nil)
		if i == 0 {
			first = box
			continue
		}
		boxes = append(boxes, base64.StdEncoding.EncodeToString(box))
	}
	var list []string
	for id := range ids {
		list = append(list, id)
	}
	sort.Strings(list)
	more := ""
	if len(boxes) > 0 {
		b, _ := json.Marshal(boxes)
		more = string(b)
	}
	if first == nil {
		first = []byte{}
	}
	sup := strings.Join(list, " ")
	// Whom this key must never reach: everyone its maker knows as
	// removed, and everyone the keys it replaces already excluded.
	gone := l.excludedFrom(ctx, tx, list)
	if rows, err := tx.QueryContext(ctx, `SELECT id FROM users WHERE removed_at IS NOT NULL`); err == nil {
		for rows.Next() {
			var uid string
			if rows.Scan(&uid) == nil {
				gone[uid] = true
			}
		}
		rows.Close()
	}
	var goneList []string
	for uid := range gone {
		goneList = append(goneList, uid)
	}
	sort.Strings(goneList)
	removed := strings.Join(goneList, " ")
	id := l.id(newKey)
	if _, err := tx.ExecContext(ctx, `INSERT INTO `+l.table+` (id, prev_box, supersedes, more_boxes, made_by, removed) VALUES (?, ?, ?, ?, ?, ?)`,
		id, first, sup, more, s.user.ID, removed); err != nil {
		return err
	}
	fields := map[string]any{"prev_box": first, "supersedes": sup, "more_boxes": more, "made_by": s.user.ID, "removed": removed}
	return s.recordChanges(ctx, tx, l.table, id, fields)
}

// keepHistory records on this computer that its file moved from old to
// newer, for backups made under old. Never replicated.
func keepHistory(ctx context.Context, q querier, l keyLine, old, newer []byte) error {
	bk, err := l.boxKey(newer)
	if err != nil {
		return err
	}
	defer store.Zero(bk)
	_, err = q.ExecContext(ctx, `INSERT OR REPLACE INTO key_history (kind, id, old_id, box) VALUES (?, ?, ?, ?)`,
		string(l.kind), l.id(newer), l.id(old), store.SealBox(bk, old, nil))
	return err
}

// olderKeys lists the keys before key, nearest first, as far as the
// replicated rows and this computer's history lead (to open backups made
// before a change, and to open a file not yet moved).
func (l keyLine) olderKeys(ctx context.Context, q querier, key []byte) [][]byte {
	var out [][]byte
	seen := map[string]bool{l.id(key): true}
	queue := [][]byte{key}
	for len(queue) > 0 && len(out) < 1000 {
		k := queue[0]
		queue = queue[1:]
		bk, err := l.boxKey(k)
		if err != nil {
			break
		}
		var boxes [][]byte
		var prev []byte
		var more string
		if q.QueryRowContext(ctx, `SELECT prev_box, more_boxes FROM `+l.table+` WHERE id = ?`, l.id(k)).Scan(&prev, &more) == nil {
			boxes = append(boxes, prev)
			var list []string
			json.Unmarshal([]byte(more), &list)
			for _, b := range list {
				if raw, err := base64.StdEncoding.DecodeString(b); err == nil {
					boxes = append(boxes, raw)
				}
			}
		}
		if rows, err := q.QueryContext(ctx, `SELECT box FROM key_history WHERE kind = ? AND id = ?`, string(l.kind), l.id(k)); err == nil {
			for rows.Next() {
				var b []byte
				if rows.Scan(&b) == nil {
					boxes = append(boxes, b)
				}
			}
			rows.Close()
		}
		for _, b := range boxes {
			if len(b) == 0 {
				continue
			}
			older, err := store.OpenBox(bk, b, nil)
			if err != nil || seen[l.id(older)] {
				continue
			}
			seen[l.id(older)] = true
			out = append(out, older)
			queue = append(queue, older)
		}
		store.Zero(bk)
	}
	return out
}

// ancestors lists the ids of every key that id replaced, directly or not,
// from the ids in clear.
func (l keyLine) ancestors(ctx context.Context, q querier, id string) map[string]bool {
	parents := l.parents(ctx, q)
	out := map[string]bool{}
	queue := []string{id}
	for len(queue) > 0 && len(out) < 10000 {
		c := queue[0]
		queue = queue[1:]
		for _, p := range parents[c] {
			if !out[p] {
				out[p] = true
				queue = append(queue, p)
			}
		}
	}
	return out
}

// parents maps each key id to the ids it replaced.
func (l keyLine) parents(ctx context.Context, q querier) map[string][]string {
	out := map[string][]string{}
	rows, err := q.QueryContext(ctx, `SELECT id, supersedes FROM `+l.table+` WHERE archived = 0`)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var id, sup string
		if rows.Scan(&id, &sup) == nil {
			out[id] = strings.Fields(sup)
		}
	}
	return out
}

// heads lists the ids of keys no other key replaces: one, unless two
// admins changed the key apart.
func (l keyLine) heads(ctx context.Context, q querier) []string {
	parents := l.parents(ctx, q)
	replaced := map[string]bool{}
	for _, ps := range parents {
		for _, p := range ps {
			replaced[p] = true
		}
	}
	var out []string
	for id := range parents {
		if !replaced[id] {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// isOlder reports whether key was replaced, directly or not, by newer.
func (l keyLine) isOlder(ctx context.Context, q querier, key, newer []byte) bool {
	if l.ancestors(ctx, q, l.id(newer))[l.id(key)] {
		return true
	}
	for _, k := range l.olderKeys(ctx, q, newer) {
		if subtle.ConstantTimeCompare(k, key) == 1 {
			return true
		}
	}
	return false
}

// shouldMove reports whether a file under key from should move to key to
// (a grant names to): when to replaced from; never back to a key from
// replaced; between two keys made apart, to the one with the greater id,
// so that every computer settles on the same one until an admin replaces
// both.
func (l keyLine) shouldMove(ctx context.Context, q querier, from, to []byte) bool {
	if subtle.ConstantTimeCompare(from, to) == 1 || l.isOlder(ctx, q, to, from) {
		return false
	}
	if l.isOlder(ctx, q, from, to) {
		return true
	}
	return l.id(to) > l.id(from)
}

// excluded lists the people key must never reach: those the makers of
// key and of every key before it knew as removed. A computer that has not
// yet heard of a removal still learns, from a newer key's lineage, whom
// not to hand that key to.
func (l keyLine) excluded(ctx context.Context, q querier, key []byte) map[string]bool {
	id := l.id(key)
	ids := []string{id}
	for a := range l.ancestors(ctx, q, id) {
		ids = append(ids, a)
	}
	return l.excludedFrom(ctx, q, ids)
}

// excludedFrom is the union of the removed lists of the rows of ids.
func (l keyLine) excludedFrom(ctx context.Context, q querier, ids []string) map[string]bool {
	out := map[string]bool{}
	for _, id := range ids {
		var removed string
		if q.QueryRowContext(ctx, `SELECT removed FROM `+l.table+` WHERE id = ?`, id).Scan(&removed) == nil {
			for _, uid := range strings.Fields(removed) {
				out[uid] = true
			}
		}
	}
	return out
}
