package app

// Attacks from an insider's side. Each test plays the attacker with what
// that person really has — raw keys from their own slot, copies of files,
// write access to the shared folder — and no session methods beyond what
// sets the scene. Each one succeeded against the first version.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// insider is what a member of staff holds after unwrapping their own slot
// of a keyring with their passphrase: no session, just keys.
type insider struct {
	slot    *store.Slot
	secrets *store.SlotSecrets
	kGen    []byte
	kClin   []byte // nil unless the slot has a clinical grant
}

func unwrapInsider(t *testing.T, kr *store.Keyring, name, pass string) insider {
	t.Helper()
	slot, err := kr.SlotByName(name)
	if err != nil {
		t.Fatal(err)
	}
	kek, err := store.DeriveKEK(pass, *slot.KDF)
	if err != nil {
		t.Fatal(err)
	}
	sec, err := store.UnwrapSlot(kek, kr.VaultID, slot.UserID, slot.Version, slot.Wrapped)
	if err != nil {
		t.Fatal(err)
	}
	in := insider{slot: slot, secrets: sec}
	if in.kGen, err = store.OpenGrant(sec.Identity, kr.VaultID, slot.UserID, slot.Role, store.General, slot.Grants[store.General]); err != nil {
		t.Fatal(err)
	}
	if box, ok := slot.Grants[store.Clinical]; ok {
		in.kClin, _ = store.OpenGrant(sec.Identity, kr.VaultID, slot.UserID, slot.Role, store.Clinical, box)
	}
	return in
}

// dumpDB returns every value of every table of an opened database, as
// text and as raw bytes, for a search for key material.
func dumpDB(t *testing.T, db *store.DB) [][]byte {
	t.Helper()
	ctx := context.Background()
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	var out [][]byte
	for _, tb := range tables {
		rows, err := db.QueryContext(ctx, `SELECT * FROM "`+tb+`"`)
		if err != nil {
			continue // FTS shadow tables and the like
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			for _, v := range vals {
				switch v := v.(type) {
				case []byte:
					out = append(out, append([]byte(nil), v...))
				case string:
					out = append(out, []byte(v))
				}
			}
		}
		rows.Close()
	}
	return out
}

// holdsKey reports whether any of blobs contains key raw, in hex or in
// base64.
func holdsKey(blobs [][]byte, key []byte) bool {
	forms := [][]byte{key, []byte(hex.EncodeToString(key)), []byte(base64.StdEncoding.EncodeToString(key))}
	for _, b := range blobs {
		for _, f := range forms {
			if bytes.Contains(b, f) {
				return true
			}
		}
	}
	return false
}

// clinicalKeysOf returns a clinical session's clinical database key and
// every clinical sync key it holds (epoch 0 and later ones).
func clinicalKeysOf(t *testing.T, s *Session) [][]byte {
	t.Helper()
	ctx := context.Background()
	keys := [][]byte{append([]byte(nil), s.kClin...)}
	epochs, _ := s.heldEpochs(ctx)
	for _, e := range append([]uint32{0}, epochs...) {
		k, err := s.syncKey(ctx, cvsync.Clinical, e)
		if err == nil && k != nil {
			keys = append(keys, k)
		}
	}
	return keys
}

// TestAttackReceptionistReadsClinicalThroughPairing: a receptionist on a
// joined laptop unwraps her own slot (general key), opens general.db with
// it, takes the device's private key, and opens the pairing grant she
// copied from the shared folder while the laptop was joining. Nothing on
// that path may hold the clinical database key or a clinical sync key,
// and the grant must be gone from the folder once used.
func TestAttackReceptionistReadsClinicalThroughPairing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	a := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(a, "Rita Front", Receptionist, recPass)
	p, _, _ := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	if _, err := a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "clinical secret"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	// A later key epoch exists (a computer was revoked once).
	old := pair(t, f, a, dir, "old-pc")
	mustSync(t, a, dir)
	if err := a.RevokeDevice(ctx, dir, deviceOf(t, old)); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)

	// The laptop joins; the receptionist copies the grant while it is in
	// the folder.
	inv, err := a.InviteDevice(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	lv := NewVault(filepath.Join(t.TempDir(), "laptop"))
	lv.Now = f.clk.Now
	lv.UseMinimumKDF()
	copied := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- lv.Join(ctx, dir, strings.ToLower(inv.Code), "laptop", func(string) { <-copied }, 5*time.Millisecond)
	}()
	req, _, err := inv.WaitForDevice(ctx, f.clk.Now, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ApproveDevice(ctx, inv, req); err != nil {
		t.Fatal(err)
	}
	var stolen [][]byte
	filepath.Walk(filepath.Join(dir, "pairing"), func(p string, info os.FileInfo, err error) error {
		if info != nil && !info.IsDir() {
			b, _ := os.ReadFile(p)
			stolen = append(stolen, b)
		}
		return nil
	})
	close(copied)
	if err := <-done; err != nil {
		t.Fatalf("join: %v", err)
	}
	mustSync(t, a, dir)
	rita := signInOn(t, f, lv, "Rita Front", recPass)
	mustSync(t, rita, dir)
	rita.Lock(ctx)

	// The pairing files are gone once used.
	filepath.Walk(filepath.Join(dir, "pairing"), func(p string, info os.FileInfo, err error) error {
		if info != nil && !info.IsDir() {
			t.Errorf("pairing file left in the folder after the join: %s", p)
		}
		return nil
	})

	// The attacker: her slot, her general key, the laptop's general.db.
	kr, err := store.LoadKeyring(lv.Dir)
	if err != nil {
		t.Fatal(err)
	}
	me := unwrapInsider(t, kr, "Rita Front", recPass)
	if me.kClin != nil {
		t.Fatal("a receptionist's slot opens a clinical grant")
	}
	gen, err := store.Open(ctx, filepath.Join(lv.Dir, store.General.FileName()), store.General, me.kGen)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	found := dumpDB(t, gen)
	var devPriv []byte
	if err := gen.QueryRowContext(ctx, `SELECT x25519_priv FROM device_keys WHERE id = 1`).Scan(&devPriv); err != nil {
		t.Fatal(err)
	}
	for _, box := range stolen {
		if body, err := cvsync.OpenFrom(devPriv, store.LabelPairingGrant, box); err == nil {
			found = append(found, body)
		}
	}
	for i, key := range clinicalKeysOf(t, a) {
		if holdsKey(found, key) {
			t.Errorf("clinical key %d is within a receptionist's reach (her general key, the device key, the pairing grant)", i)
		}
	}
	// The admin on the laptop still gets the chart: the clinical key
	// reaches it through her own grant.
	m := signInOn(t, f, lv, "Maria Admin", adminPass)
	mustSync(t, m, dir)
	c, err := m.OpenChart(ctx, p.MRN)
	if err != nil || len(c.Encounters) != 1 || c.Encounters[0].SOAP.Assessment != "clinical secret" {
		t.Fatalf("the admin's chart on the laptop: %v %+v", err, c)
	}
	m.Lock(ctx)
	// Now that the laptop has a clinical.db, it does not open with
	// anything key-sized she found.
	for _, b := range found {
		if len(b) == store.KeySize {
			if db, err := store.Open(ctx, filepath.Join(lv.Dir, store.Clinical.FileName()), store.Clinical, b); err == nil {
				db.Close()
				t.Fatal("the laptop's clinical.db opened with a key from general.db or the grant")
			}
		}
	}
}

// deviceOf reads the device id of a vault that is not signed in.
func deviceOf(t *testing.T, v *Vault) string {
	t.Helper()
	kr, err := store.LoadKeyring(v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	in := unwrapInsider(t, kr, "Maria Admin", adminPass)
	gen, err := store.Open(context.Background(), filepath.Join(v.Dir, store.General.FileName()), store.General, in.kGen)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	var id string
	if err := gen.QueryRow(`SELECT device_id FROM device_keys WHERE id = 1`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

// batchFiles is a device's log in the folder: seq -> path.
func batchPath(dir, device string, seq uint64) string {
	return filepath.Join(dir, "devices", device, fmt.Sprintf("%012d", seq))
}

func sentUpToSeq(s *Session) (uint64, error) {
	var n int64
	err := s.general.QueryRow(`SELECT coalesce(max(seq), 0) FROM sync_sent`).Scan(&n)
	return uint64(n), err
}

// forge seals records as an attacker would, with keys of their own
// choosing, into device's log at seq after prev.
func forge(t *testing.T, dir, vaultID, device string, seq uint64, prev []byte, epoch uint32, class cvsync.Class,
	key []byte, signer string, signKey, devKey ed25519.PrivateKey, recs []cvsync.Record) {
	t.Helper()
	h := cvsync.Header{VaultID: vaultID, Epoch: epoch, Class: class, Device: device, Seq: seq, Signer: signer}
	copy(h.PrevHash[:], prev)
	env, _, err := cvsync.Seal(h, recs, key, signKey, devKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(batchPath(dir, device, seq), env, 0o600); err != nil {
		t.Fatal(err)
	}
}

// lastInFolder is the newest batch of device in the folder and its hash.
func lastInFolder(t *testing.T, dir, device string) (uint64, []byte) {
	t.Helper()
	seqs, err := cvsync.Folder{Dir: dir}.Seqs(device, 0)
	if err != nil || len(seqs) == 0 {
		t.Fatalf("no batches of %s: %v", device, err)
	}
	q := seqs[len(seqs)-1]
	b, err := os.ReadFile(batchPath(dir, device, q))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	return q, h[:]
}

// copyDir copies a data folder (a locked vault) as someone leaving would.
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
