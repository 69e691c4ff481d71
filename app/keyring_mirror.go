package app

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// The keyring replicates through sync as opaque blobs: every change to a
// slot is mirrored into general.db's keyring_slots table with a change
// record, and applying such a record rewrites the slot in vault.keys. A
// slot travels in two columns that merge on their own: the part its owner
// changes (slot: passphrase-wrapped secrets, their version and KDF) and
// the part an admin changes (grants: role and key grants). A passphrase
// changed on a laptop and a key change made at the desk meanwhile both
// survive.

// slotGrants is the admin's part of a slot.
type slotGrants struct {
	Role          string                `json:"role"`
	Grants        map[store.Kind][]byte `json:"grants"`
	ClinicalKeyID string                `json:"clinical_key_id,omitempty"`
	GeneralKeyID  string                `json:"general_key_id,omitempty"`
}

// mirrorSlot records a slot's whole content (an admin's change).
func (w changeWriter) mirrorSlot(ctx context.Context, tx querier, slot *store.Slot) error {
	js, err := json.Marshal(slot)
	if err != nil {
		return err
	}
	gs, err := json.Marshal(slotGrants{Role: slot.Role, Grants: slot.Grants, ClinicalKeyID: slot.ClinicalKeyID, GeneralKeyID: slot.GeneralKeyID})
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO keyring_slots (id, slot, grants, archived) VALUES (?, ?, ?, 0)
		ON CONFLICT(id) DO UPDATE SET slot = excluded.slot, grants = excluded.grants, archived = 0`, slot.UserID, string(js), string(gs)); err != nil {
		return err
	}
	return w.record(ctx, tx, "keyring_slots", slot.UserID, map[string]any{"slot": string(js), "grants": string(gs), "archived": false})
}

// mirrorGrants records the admin's part of a slot only (a new role, new
// key grants), leaving its owner's part to whatever its owner set last.
func (w changeWriter) mirrorGrants(ctx context.Context, tx querier, slot *store.Slot) error {
	gs, err := json.Marshal(slotGrants{Role: slot.Role, Grants: slot.Grants, ClinicalKeyID: slot.ClinicalKeyID, GeneralKeyID: slot.GeneralKeyID})
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE keyring_slots SET grants = ? WHERE id = ?`, string(gs), slot.UserID); err != nil {
		return err
	}
	return w.record(ctx, tx, "keyring_slots", slot.UserID, map[string]any{"grants": string(gs)})
}

// mirrorSecrets records the owner's part of a slot only (a new passphrase
// or authenticator), leaving its role and grants to whatever an admin set.
func (w changeWriter) mirrorSecrets(ctx context.Context, tx querier, slot *store.Slot) error {
	js, err := json.Marshal(slot)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE keyring_slots SET slot = ? WHERE id = ?`, string(js), slot.UserID); err != nil {
		return err
	}
	return w.record(ctx, tx, "keyring_slots", slot.UserID, map[string]any{"slot": string(js)})
}

// removeSlot records a slot's removal.
func (w changeWriter) removeSlot(ctx context.Context, tx querier, id string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO keyring_slots (id, archived) VALUES (?, 1) ON CONFLICT(id) DO UPDATE SET archived = 1`, id); err != nil {
		return err
	}
	return w.record(ctx, tx, "keyring_slots", id, map[string]any{"archived": true})
}

// signPub is the hex Ed25519 public key of a user's signing seed.
func signPub(seed []byte) string {
	return hex.EncodeToString(ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey))
}

// addDeviceToRoster records a new device in the replicated roster. A
// device id the roster already holds, revoked or not, is refused
// (ErrDeviceIDTaken): adding a device never replaces another's keys.
func (w changeWriter) addDeviceToRoster(ctx context.Context, tx querier, id, name string, x25519, ed25519pub []byte, at int64) error {
	xs, es := hex.EncodeToString(x25519), hex.EncodeToString(ed25519pub)
	res, err := tx.ExecContext(ctx, `INSERT INTO devices (id, name, x25519_pub, ed25519_pub, added_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(id) DO NOTHING`, id, name, xs, es, at)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return ErrDeviceIDTaken
	}
	return w.record(ctx, tx, "devices", id, map[string]any{"name": name, "x25519_pub": xs, "ed25519_pub": es, "added_at": at})
}

// vaultWriter is a change writer for work done without a session (vault
// creation, recovery): this machine's device, a clock after its newest
// change, and the given author.
func vaultWriter(ctx context.Context, v *Vault, gen *store.DB, author string) (changeWriter, deviceKeys, error) {
	dev, err := ensureDevice(ctx, gen)
	if err != nil {
		return changeWriter{}, dev, err
	}
	last, err := lastHLC(ctx, gen)
	if err != nil {
		return changeWriter{}, dev, err
	}
	return changeWriter{cvsync.NewClock(dev.id, v.now, last), dev.id, author, nil}, dev, nil
}
