package app

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
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
	gone, err := l.excludedFrom(ctx, tx, list)
	if err != nil {
		return err
	}
	removedHere, err := queryAll(ctx, tx, scanString, `SELECT id FROM users WHERE removed_at IS NOT NULL`)
	if err != nil {
		return err
	}
	for _, uid := range removedHere {
		gone[uid] = true
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
func (l keyLine) olderKeys(ctx context.Context, q querier, key []byte) ([][]byte, error) {
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
		boxes, err := l.boxesOf(ctx, q, l.id(k))
		if err != nil {
			store.Zero(bk)
			zeroAll(out)
			return nil, err
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
	return out, nil
}

// boxesOf lists the sealed keys that the key named id replaced: from its
// replicated row (none when there is no row) and this computer's history.
func (l keyLine) boxesOf(ctx context.Context, q querier, id string) ([][]byte, error) {
	var boxes [][]byte
	var prev []byte
	var more string
	err := q.QueryRowContext(ctx, `SELECT prev_box, more_boxes FROM `+l.table+` WHERE id = ?`, id).Scan(&prev, &more)
	switch {
	case err == nil:
		boxes = append(boxes, prev)
		var list []string
		json.Unmarshal([]byte(more), &list) // written by recordKey; a damaged list yields fewer keys, never wrong ones
		for _, b := range list {
			if raw, err := base64.StdEncoding.DecodeString(b); err == nil {
				boxes = append(boxes, raw)
			}
		}
	case !errors.Is(err, sql.ErrNoRows):
		return nil, err
	}
	local, err := queryAll(ctx, q, func(r row) (b []byte, err error) {
		err = r.Scan(&b)
		return b, err
	}, `SELECT box FROM key_history WHERE kind = ? AND id = ?`, string(l.kind), id)
	return append(boxes, local...), err
}

// ancestors lists the ids of every key that id replaced, directly or not,
// from the ids in clear.
func (l keyLine) ancestors(ctx context.Context, q querier, id string) (map[string]bool, error) {
	parents, err := l.parents(ctx, q)
	if err != nil {
		return nil, err
	}
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
	return out, nil
}

// parents maps each key id to the ids it replaced.
func (l keyLine) parents(ctx context.Context, q querier) (map[string][]string, error) {
	type link struct{ id, supersedes string }
	links, err := queryAll(ctx, q, func(r row) (k link, err error) {
		err = r.Scan(&k.id, &k.supersedes)
		return k, err
	}, `SELECT id, supersedes FROM `+l.table+` WHERE archived = 0`)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]string, len(links))
	for _, k := range links {
		out[k.id] = strings.Fields(k.supersedes)
	}
	return out, nil
}

// heads lists the ids of keys no other key replaces: one, unless two
// admins changed the key apart.
func (l keyLine) heads(ctx context.Context, q querier) ([]string, error) {
	parents, err := l.parents(ctx, q)
	if err != nil {
		return nil, err
	}
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
	return out, nil
}

// isOlder reports whether key was replaced, directly or not, by newer.
func (l keyLine) isOlder(ctx context.Context, q querier, key, newer []byte) (bool, error) {
	anc, err := l.ancestors(ctx, q, l.id(newer))
	if err != nil {
		return false, err
	}
	if anc[l.id(key)] {
		return true, nil
	}
	older, err := l.olderKeys(ctx, q, newer)
	if err != nil {
		return false, err
	}
	for _, k := range older {
		if subtle.ConstantTimeCompare(k, key) == 1 {
			return true, nil
		}
	}
	return false, nil
}

// shouldMove reports whether a file under key from should move to key to
// (a grant names to): when to replaced from; never back to a key from
// replaced; between two keys made apart, to the one with the greater id,
// so that every computer settles on the same one until an admin replaces
// both.
func (l keyLine) shouldMove(ctx context.Context, q querier, from, to []byte) (bool, error) {
	if subtle.ConstantTimeCompare(from, to) == 1 {
		return false, nil
	}
	back, err := l.isOlder(ctx, q, to, from)
	if err != nil || back {
		return false, err
	}
	forward, err := l.isOlder(ctx, q, from, to)
	if err != nil {
		return false, err
	}
	return forward || l.id(to) > l.id(from), nil
}

// keptFrom lists the people key must never reach: those the makers of
// key and of every key before it knew as removed. A computer that has not
// yet heard of a removal still learns, from a newer key's lineage, whom
// not to hand that key to. The map is never nil without an error.
func (l keyLine) keptFrom(ctx context.Context, q querier, key []byte) (map[string]bool, error) {
	id := l.id(key)
	anc, err := l.ancestors(ctx, q, id)
	if err != nil {
		return nil, err
	}
	ids := []string{id}
	for a := range anc {
		ids = append(ids, a)
	}
	return l.excludedFrom(ctx, q, ids)
}

// excluded is keptFrom for callers with no error to return (pairing.go,
// and sync_merge.go through excludedGeneral): nil when the lineage cannot
// be read, which ensureEscrow takes as "change nothing", so that a read
// error grants no one the key.
func (l keyLine) excluded(ctx context.Context, q querier, key []byte) map[string]bool {
	gone, err := l.keptFrom(ctx, q, key)
	if err != nil {
		return nil
	}
	return gone
}

// excludedFrom is the union of the removed lists of the rows of ids. A
// key without a row (the vault's first, or a row not yet received)
// excludes no one itself.
func (l keyLine) excludedFrom(ctx context.Context, q querier, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range ids {
		removed, err := scalarOr(ctx, q, "", `SELECT removed FROM `+l.table+` WHERE id = ?`, id)
		if err != nil {
			return nil, err
		}
		for _, uid := range strings.Fields(removed) {
			out[uid] = true
		}
	}
	return out, nil
}
