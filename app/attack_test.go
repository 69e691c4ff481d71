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
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
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

// TestAttackFolderWriterCannotDropChanges: anyone who can write to the
// shared folder overwrites batch k of a device with junk. Nothing at or
// after k may be applied; the log is shown halted; once the genuine k is
// back, k, k+1 and k+2 all apply. The same holds for a batch that is only
// half there (a cloud folder still downloading it).
func TestAttackFolderWriterCannotDropChanges(t *testing.T) {
	for _, tc := range []struct {
		name string
		junk func(genuine []byte) []byte
	}{
		{"junk", func(g []byte) []byte { return bytes.Repeat([]byte("x"), len(g)) }},
		{"half-downloaded", func(g []byte) []byte { return g[:len(g)/2] }},
		{"bit-flipped", func(g []byte) []byte { b := append([]byte(nil), g...); b[len(b)-1] ^= 1; return b }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, dir, a, b := twoMachines(t)
			ctx := context.Background()
			mustSync(t, a, dir)
			var seqs []uint64
			for _, family := range []string{"Alpha", "Bravo", "Charlie"} {
				b.AddPatient(ctx, Patient{Given: "P", Family: family, DOB: "1990-01-01"})
				before, _ := sentUpToSeq(b)
				mustSync(t, b, dir)
				after, _ := sentUpToSeq(b)
				if after != before+1 {
					t.Fatalf("expected one batch, sent %d", after-before)
				}
				seqs = append(seqs, after)
			}
			path := batchPath(dir, b.DeviceID(), seqs[0])
			genuine, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			// The attacker replaces batch k.
			if err := os.WriteFile(path, tc.junk(genuine), 0o600); err != nil {
				t.Fatal(err)
			}
			for pass := 0; pass < 2; pass++ {
				rep, err := a.Sync(ctx, dir)
				if err != nil {
					t.Fatal(err)
				}
				if len(rep.Problems) == 0 {
					t.Fatalf("pass %d: no problem reported: %+v", pass, rep)
				}
				for _, family := range []string{"alpha", "bravo", "charlie"} {
					if got, _ := a.SearchPatients(ctx, family, 5); len(got) != 0 {
						t.Fatalf("pass %d: %s applied though batch %d before it is junk", pass, family, seqs[0])
					}
				}
				devs, _ := a.Devices(ctx)
				halted := false
				for _, d := range devs {
					if d.ID == b.DeviceID() && d.Halted && !d.Problem.IsZero() {
						halted = true
					}
				}
				if !halted {
					t.Fatalf("pass %d: the laptop's log is not shown halted: %+v", pass, devs)
				}
				if rep.Halted != 1 || (pass == 0) != (rep.Refused == 1) {
					t.Fatalf("pass %d: halted %d, refused %d (refused counts a file once)", pass, rep.Halted, rep.Refused)
				}
			}
			// The watcher does not run a pass for the same refused file.
			if a.SyncNeeded(ctx, dir) {
				t.Fatal("a pass is said to be needed for a log halted at the same file")
			}
			// The Security Center names it.
			items, _ := a.SecurityReport(ctx)
			named := false
			for _, i := range items {
				if i.ID == "devices-halted" && i.Status == "attention" && strings.Contains(i.Detail, "laptop") {
					named = true
				}
			}
			if !named {
				t.Fatalf("the Security Center does not name the halted computer: %+v", items)
			}
			// The genuine batch is put back: everything applies.
			if err := os.WriteFile(path, genuine, 0o600); err != nil {
				t.Fatal(err)
			}
			rep := mustSync(t, a, dir)
			if rep.Applied < 3 {
				t.Fatalf("after the genuine batch came back: %+v", rep)
			}
			for _, family := range []string{"alpha", "bravo", "charlie"} {
				if got, _ := a.SearchPatients(ctx, family, 5); len(got) != 1 {
					t.Fatalf("%s is lost after the genuine batch came back", family)
				}
			}
			devs, _ := a.Devices(ctx)
			for _, d := range devs {
				if d.Halted || !d.Problem.IsZero() {
					t.Fatalf("still halted: %+v", d)
				}
			}
		})
	}
}

func sentUpToSeq(s *Session) (uint64, error) {
	var n int64
	err := s.general.QueryRow(`SELECT coalesce(max(seq), 0) FROM sync_sent`).Scan(&n)
	return uint64(n), err
}

// TestAttackSenderIsNotWedged: the sender's next batch number is already
// taken — by its own batch whose record did not reach its database (a
// kill between the file and the commit), or by a file someone else put
// there. Sync goes on: its own batch is recognised, a foreign file is
// replaced by the genuine batch and reported, and the other computer
// receives everything once.
func TestAttackSenderIsNotWedged(t *testing.T) {
	_, dir, a, b := twoMachines(t)
	ctx := context.Background()

	// A kill after the batch reached the folder, before the database
	// recorded it as sent.
	b.AddPatient(ctx, Patient{Given: "Kill", Family: "Window", DOB: "1990-01-01"})
	mustSync(t, b, dir)
	last, _ := sentUpToSeq(b)
	if _, err := b.general.Exec(`DELETE FROM sync_sent WHERE seq = ?`, last); err != nil {
		t.Fatal(err)
	}
	b.AddPatient(ctx, Patient{Given: "After", Family: "Kill", DOB: "1990-01-01"})
	if _, err := b.Sync(ctx, dir); err != nil {
		t.Fatalf("sync after a kill between file and database: %v", err)
	}

	// A foreign file at the next number.
	next, _ := sentUpToSeq(b)
	next++
	if err := os.WriteFile(batchPath(dir, b.DeviceID(), next), []byte("not a batch"), 0o600); err != nil {
		t.Fatal(err)
	}
	b.AddPatient(ctx, Patient{Given: "Foreign", Family: "File", DOB: "1990-01-01"})
	rep, err := b.Sync(ctx, dir)
	if err != nil {
		t.Fatalf("sync with a foreign file at the next number: %v", err)
	}
	if len(rep.Problems) == 0 {
		t.Fatalf("the foreign file is not reported: %+v", rep)
	}
	rep = mustSync(t, a, dir)
	for _, q := range []string{"window", "after kill", "foreign file"} {
		if got, _ := a.SearchPatients(ctx, q, 5); len(got) != 1 {
			t.Fatalf("%q arrived %d times on the other computer (%+v)", q, len(got), rep)
		}
	}
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

// TestAttackRemovedAdminWritesHimselfBack: a second admin is removed. With
// a copy of vault.keys from before (every backup has one) and his own
// passphrase he unwraps his old slot, derives the general sync key from
// the general key, and writes the next batch of another computer's log:
// his account back (removed_at NULL) and his old slot. He signs it as that
// computer with a key of his own, or with the computer's real device key
// (read from his copy of its general.db, which his old general key still
// opens). The
// other computers must refuse it, name why, and keep him removed.
func TestAttackRemovedAdminWritesHimselfBack(t *testing.T) {
	for _, variant := range []string{"own device key", "the desk's device key"} {
		t.Run(variant, func(t *testing.T) {
			f, dir, a, b := twoMachines(t)
			ctx := context.Background()
			const bobPass = "marble orchestra lantern velvet"
			f.addUser(a, "Bob Admin", Admin, bobPass)
			mustSync(t, a, dir)
			mustSync(t, b, dir)
			oldKeys, err := store.LoadKeyring(a.v.Dir)
			if err != nil {
				t.Fatal(err)
			}
			// His copy of the desk's data folder, taken before he left
			// (the desk's general.db changes key at his removal).
			hisCopy := filepath.Join(t.TempDir(), "his-copy")
			copyDir(t, a.v.Dir, hisCopy)
			if err := a.RemoveUser(ctx, "Bob Admin"); err != nil {
				t.Fatal(err)
			}
			mustSync(t, a, dir)
			mustSync(t, b, dir)
			f.clk.Advance(time.Minute)

			bob := unwrapInsider(t, oldKeys, "Bob Admin", bobPass)
			slotJSON, _ := json.Marshal(bob.slot)
			key, err := store.DeriveKey(bob.kGen, []byte(oldKeys.VaultID), store.LabelSyncKey+"/general/0", 32)
			if err != nil {
				t.Fatal(err)
			}
			signKey := ed25519.NewKeyFromSeed(bob.secrets.SigningSeed)
			_, devKey, _ := ed25519.GenerateKey(nil)
			if variant == "the desk's device key" {
				gen, err := store.Open(ctx, filepath.Join(hisCopy, store.General.FileName()), store.General, bob.kGen)
				if err != nil {
					t.Fatal(err)
				}
				var seed []byte
				if err := gen.QueryRow(`SELECT ed25519_seed FROM device_keys WHERE id = 1`).Scan(&seed); err != nil {
					t.Fatal(err)
				}
				gen.Close()
				devKey = ed25519.NewKeyFromSeed(seed)
			}
			// Into A's log, at its next number, as if A wrote it; times just now.
			seq, prev := lastInFolder(t, dir, a.DeviceID())
			hlc := cvsync.Timestamp{Wall: uint64(f.clk.Now().UnixMilli()), Device: a.DeviceID()}
			slot, archived, null := string(slotJSON), "0", (*string)(nil)
			recs := []cvsync.Record{
				{HLC: hlc.String(), Table: "users", RowID: bob.slot.UserID, Columns: map[string]*string{"removed_at": null}, Device: a.DeviceID(), Author: a.user.ID},
			}
			hlc.Logical++
			recs = append(recs, cvsync.Record{HLC: hlc.String(), Table: "keyring_slots", RowID: bob.slot.UserID,
				Columns: map[string]*string{"slot": &slot, "archived": &archived}, Device: a.DeviceID(), Author: a.user.ID})
			forge(t, dir, oldKeys.VaultID, a.DeviceID(), seq+1, prev, 0, cvsync.General, key, bob.slot.UserID, signKey, devKey, recs)

			rep, err := b.Sync(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Applied != 0 || len(rep.Problems) == 0 {
				t.Fatalf("the removed admin's batch was not refused: %+v", rep)
			}
			var removed sql.NullInt64
			b.general.QueryRow(`SELECT removed_at FROM users WHERE id = ?`, bob.slot.UserID).Scan(&removed)
			if !removed.Valid {
				t.Fatal("the removed admin is active again on the laptop")
			}
			kr, _ := store.LoadKeyring(b.v.Dir)
			if _, err := kr.SlotByID(bob.slot.UserID); err == nil {
				t.Fatal("the removed admin's slot is back in the laptop's keyring")
			}
			if _, err := b.v.SignIn(ctx, "Bob Admin", bobPass, "000000"); err == nil {
				t.Fatal("the removed admin signs in on the laptop")
			}
		})
	}
}

// TestAttackJunkClinicalBatchOnAReceptionistsComputer: a computer where
// only a receptionist signs in cannot open clinical batches, and used to
// keep any file with a clinical header "sealed" and move on. Junk with a
// clinical header in a device's log must halt that log there, not pass.
func TestAttackJunkClinicalBatchOnAReceptionistsComputer(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	b.Lock(ctx)
	rita := signInOn(t, f, b.v, "Rita Front", recPass)
	mustSync(t, rita, dir)

	seq, prev := lastInFolder(t, dir, a.DeviceID())
	junkKey := store.NewKey()
	_, junkSigner, _ := ed25519.GenerateKey(nil)
	hlc := cvsync.Timestamp{Wall: uint64(f.clk.Now().UnixMilli()), Device: a.DeviceID()}
	v := "junk"
	forge(t, dir, a.kr.VaultID, a.DeviceID(), seq+1, prev, 0, cvsync.Clinical, junkKey, a.user.ID, junkSigner, junkSigner,
		[]cvsync.Record{{HLC: hlc.String(), Table: "allergies", RowID: newID(), Columns: map[string]*string{"substance": &v}, Device: a.DeviceID(), Author: a.user.ID}})
	rep, err := rita.Sync(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Sealed != 0 {
		t.Fatalf("junk with a clinical header was kept as a sealed batch: %+v", rep)
	}
	if len(rep.Problems) == 0 {
		t.Fatalf("junk with a clinical header is not reported: %+v", rep)
	}
	if got, _ := rita.lastReceived(ctx, a.DeviceID()); got > seq {
		t.Fatalf("the log moved past the junk batch (%d > %d)", got, seq)
	}
}

// TestAttackBackupCarriesNoComputerKeys: a receptionist opens the general
// part of a backup with her own general key. It must hold no device key
// of the computer that made it (with one she would sign batches as that
// computer, or open what is sealed to it), no sync key of a key epoch, and
// no clinical key.
func TestAttackBackupCarriesNoComputerKeys(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	a := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(a, "Rita Front", Receptionist, recPass)
	p, _, _ := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "clinical secret"})
	mustSync(t, a, dir)
	old := pair(t, f, a, dir, "old-pc")
	mustSync(t, a, dir)
	if err := a.RevokeDevice(ctx, dir, deviceOf(t, old)); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	info, err := a.CreateBackup(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	kr, _ := store.LoadKeyring(a.v.Dir)
	me := unwrapInsider(t, kr, "Rita Front", recPass)
	work := t.TempDir()
	if _, _, err := unpackBackup(info.Path, backupKeyFor(me.secrets.Identity, me.slot.UserID, me.kGen), work, nil); err != nil {
		t.Fatal(err)
	}
	gen, err := store.Open(ctx, filepath.Join(work, store.General.FileName()), store.General, me.kGen)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	found := dumpDB(t, gen)
	generalEpoch, _ := a.syncKey(ctx, cvsync.General, a.currentEpoch(ctx))
	if generalEpoch == nil || a.currentEpoch(ctx) == 0 {
		t.Fatal("no key epoch after the revocation")
	}
	for name, key := range map[string][]byte{"device X25519 key": a.devKeys.x25519, "device signing key": a.devKeys.ed25519, "the current epoch's general sync key": generalEpoch} {
		if holdsKey(found, key) {
			t.Errorf("the backup's general part holds this computer's %s", name)
		}
	}
	for i, key := range clinicalKeysOf(t, a) {
		if holdsKey(found, key) {
			t.Errorf("the backup's general part holds clinical key %d", i)
		}
	}
	// The backup still restores and verifies.
	if rep, err := a.VerifyBackup(ctx, info.Path, nil); err != nil {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}

// TestKeyringChangesAreNotLostToARace: two programs on one data folder —
// an admin adding staff in one, sign-ins (failed and successful) in the
// other, each with its own Vault and so its own reads and writes of
// vault.keys. A sign-in used to read the keyring before its key
// derivation and write that stale copy back after it, dropping a slot
// added meanwhile.
func TestKeyringChangesAreNotLostToARace(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(a, "Rita Front", Receptionist, recPass)
	ritaSecret := f.secrets["Rita Front"]
	other := NewVault(f.v.Dir)
	other.Now = f.clk.Now
	other.UseMinimumKDF()
	const n = 8
	done := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			enr, err := NewEnrollment(practice, fmt.Sprintf("Staff %d", i))
			if err != nil {
				done <- err
				return
			}
			if err := a.AddUser(ctx, fmt.Sprintf("Staff %d", i), Receptionist, recPass, enr); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	raw, _ := b32.DecodeString(ritaSecret)
	var addErr error
signIns:
	for i := 0; ; i++ {
		select {
		case addErr = <-done:
			break signIns
		default:
		}
		if i%3 == 2 {
			f.clk.Advance(totpPeriod * time.Second)
			code := totpCode(raw, f.clk.Now().Unix()/totpPeriod, totpDigits)
			if s, err := other.SignIn(ctx, "Rita Front", recPass, code); err == nil {
				s.Lock(ctx)
			}
			continue
		}
		other.SignIn(ctx, "Rita Front", "wrong "+recPass, "000000")
	}
	if addErr != nil {
		t.Fatal(addErr)
	}
	kr, err := store.LoadKeyring(f.v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := kr.SlotByName(fmt.Sprintf("Staff %d", i)); err != nil {
			t.Errorf("Staff %d's slot was lost to a concurrent sign-in", i)
		}
	}
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

// TestAttackDepartedUserOldCopyReadsNothingNew: a receptionist leaves with
// a copy of the laptop's data folder (her slot, general.db with the
// laptop's device key, the general key). After her removal she signs in
// on the copy, where she is still active, and syncs from the shared
// folder: nothing written after her removal may reach her copy. What her
// copy writes is refused at the other computers, with a problem line
// naming why, and the laptop's own log goes on.
func TestAttackDepartedUserOldCopyReadsNothingNew(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	laptop := b.v
	b.Lock(ctx)
	stolen := filepath.Join(t.TempDir(), "copy")
	copyDir(t, laptop.Dir, stolen)
	b = signInOn(t, f, laptop, "Maria Admin", adminPass)

	if err := a.RemoveUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	p, _, err := a.AddPatient(ctx, Patient{Given: "Later", Family: "Registered", DOB: "1990-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	// The desk reads what the laptop sent meanwhile (its sign-in's spent
	// code): a batch no other computer has read yet is one a folder writer
	// can replace, which halts that log until an admin acts (see README).
	mustSync(t, a, dir)
	if got, _ := b.GetPatient(ctx, p.MRN); got.Family != "Registered" {
		t.Fatal("the laptop did not get the patient registered after the removal")
	}

	// Rita, on her copy.
	cv := NewVault(stolen)
	cv.Now = f.clk.Now
	cv.UseMinimumKDF()
	rita := signInOn(t, f, cv, "Rita Front", recPass)
	rita.Sync(ctx, dir)
	if got, _ := rita.SearchPatients(ctx, "registered", 5); len(got) != 0 {
		t.Fatal("the departed receptionist's old copy received a patient registered after her removal")
	}
	// What her copy writes is refused.
	rita.AddPatient(ctx, Patient{Given: "Written", Family: "Afterwards", DOB: "1990-01-01"})
	rita.Sync(ctx, dir)
	rep, err := a.Sync(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := a.SearchPatients(ctx, "afterwards", 5); len(got) != 0 {
		t.Fatal("a patient written on the departed receptionist's copy was applied")
	}
	if !strings.Contains(rep.ProblemText(), "removed") {
		t.Fatalf("no problem names why: %+v", rep)
	}
	// The laptop writes its genuine batch in that place; its log goes on.
	b.AddPatient(ctx, Patient{Given: "Genuine", Family: "Laptop", DOB: "1990-01-01"})
	mustSync(t, b, dir)
	a.Sync(ctx, dir)
	if got, _ := a.SearchPatients(ctx, "laptop", 5); len(got) != 1 {
		devs, _ := a.Devices(ctx)
		t.Fatalf("the laptop's own change did not arrive after the forged batch: %+v", devs)
	}
}

// TestAttackRemovedAdminPublishesEpochKeys: a removed admin writes a new
// key epoch of keys he chose, sealed to the remaining admin on the laptop
// (both public keys are in the roster and vault.keys), signed with his
// own key and dated before his removal. If the laptop took it, it would
// seal everything new under keys he holds.
func TestAttackRemovedAdminPublishesEpochKeys(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	const bobPass = "marble orchestra lantern velvet"
	f.addUser(a, "Bob Admin", Admin, bobPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	oldKeys, _ := store.LoadKeyring(a.v.Dir)
	bob := unwrapInsider(t, oldKeys, "Bob Admin", bobPass)
	before := f.clk.Now()
	f.clk.Advance(time.Hour)
	if err := a.RemoveUser(ctx, "Bob Admin"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	cur := b.currentEpoch(ctx)

	mine := store.NewKey()
	maria, _ := oldKeys.SlotByName("Maria Admin")
	body, _ := json.Marshal(cvsync.UserEpochKeys{General: mine, Clinical: mine})
	inner, _ := cvsync.SealTo(maria.PublicKey, store.LabelEpochUser, body)
	var devPub string
	b.general.QueryRow(`SELECT x25519_pub FROM devices WHERE id = ?`, b.DeviceID()).Scan(&devPub)
	raw, _ := hex.DecodeString(devPub)
	box, _ := cvsync.SealTo(raw, store.LabelEpochUserOnDevice, inner)
	forged, _ := nextEpoch(cur)
	ef := cvsync.EpochFile{Epoch: forged, User: maria.UserID, Device: b.DeviceID(), Made: before.UnixMilli(), Box: box, Admin: bob.slot.UserID}
	ef.Signature = ed25519.Sign(ed25519.NewKeyFromSeed(bob.secrets.SigningSeed), cvsync.EpochSigned(ef))
	js, _ := json.Marshal(ef)
	if err := (cvsync.Folder{Dir: dir}).WriteOnce(fmt.Sprintf("epochs/%d/%s", forged, cvsync.UserEpochName(maria.UserID, b.DeviceID())), js); err != nil {
		t.Fatal(err)
	}
	b.Sync(ctx, dir)
	if got := b.currentEpoch(ctx); got != cur {
		t.Fatalf("the laptop took the removed admin's epoch %d (was on %d)", got, cur)
	}
	b.AddPatient(ctx, Patient{Given: "After", Family: "Forgery", DOB: "1990-01-01"})
	mustSync(t, b, dir)
	seq, _ := lastInFolder(t, dir, b.DeviceID())
	env, _ := os.ReadFile(batchPath(dir, b.DeviceID(), seq))
	if _, err := cvsync.Open(env, mine, func(string) (ed25519.PublicKey, error) { return nil, errUnknownSigner }); err == nil || !strings.Contains(err.Error(), "authenticate") {
		t.Fatalf("the laptop's new batch opens with the removed admin's key: %v", err)
	}
}

// TestAttackUserReinstallsAnOlderSlot: a receptionist changes her
// passphrase (the old one leaked), then puts her old slot back — the copy
// her old passphrase opens — by writing it into her computer's log with
// her own signing key and the computer's device key. It is refused; the
// old passphrase stays useless on the other computers.
func TestAttackUserReinstallsAnOlderSlot(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	oldKeys, _ := store.LoadKeyring(a.v.Dir)
	oldSlot, _ := oldKeys.SlotByName("Rita Front")
	rita := signInOn(t, f, a.v, "Rita Front", recPass)
	const newPass = "harbour violin cactus midnight"
	if err := rita.ChangePassphrase(ctx, recPass, newPass); err != nil {
		t.Fatal(err)
	}
	if rep := mustSync(t, rita, dir); rep.Sent == 0 {
		t.Fatalf("the new passphrase was not sent: %+v", rep)
	}
	if rep := mustSync(t, b, dir); rep.Applied == 0 {
		t.Fatalf("the new passphrase did not reach the laptop: %+v", rep)
	}
	rita.Lock(ctx)
	f.clk.Advance(time.Minute)
	if _, err := b.v.SignIn(ctx, "Rita Front", recPass, f.codeFor(f.secrets["Rita Front"])); err == nil {
		t.Fatal("the old passphrase still signs in on the laptop after the change")
	}

	kr, _ := store.LoadKeyring(a.v.Dir)
	in, key, signKey, devKey := deskKeysAs(t, a.v.Dir, kr, "Rita Front", newPass)
	js, _ := json.Marshal(oldSlot)
	v, archived := string(js), "0"
	seq, prev := lastInFolder(t, dir, a.DeviceID())
	hlc := cvsync.Timestamp{Wall: uint64(f.clk.Now().Add(time.Minute).UnixMilli()), Device: a.DeviceID()}
	forge(t, dir, kr.VaultID, a.DeviceID(), seq+1, prev, a.currentEpoch(ctx), cvsync.General, key, in.slot.UserID, signKey, devKey,
		[]cvsync.Record{{HLC: hlc.String(), Table: "keyring_slots", RowID: in.slot.UserID, Columns: map[string]*string{"slot": &v, "archived": &archived}, Device: a.DeviceID(), Author: in.slot.UserID}})
	rep, _ := b.Sync(ctx, dir)
	if rep.Applied != 0 || rep.Halted == 0 {
		t.Fatalf("the older slot was not refused: %+v", rep)
	}
	f.clk.Advance(time.Minute)
	if _, err := b.v.SignIn(ctx, "Rita Front", recPass, f.codeFor(f.secrets["Rita Front"])); err == nil {
		t.Fatal("the old, leaked passphrase signs in on the laptop again")
	}
}

// TestAttackDemotedClinicianOpensNoNewerClinicalDB: a clinician is made a
// receptionist. With the clinical key from his old slot he tries every
// computer's clinical.db afterwards: the desk's (where the admin demoted
// him) and the laptop's (where an admin was signed in all along, and
// synced). Neither opens; the charts written after the demotion are
// there for the admins.
func TestAttackDemotedClinicianOpensNoNewerClinicalDB(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
	p, _, _ := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "before"})
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	oldKeys, _ := store.LoadKeyring(a.v.Dir)
	omar := unwrapInsider(t, oldKeys, "Dr Omar Haddad", docPass)
	if omar.kClin == nil {
		t.Fatal("a clinician's slot has no clinical key")
	}
	if err := a.SetRole(ctx, "Dr Omar Haddad", Receptionist); err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "after the demotion"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	for name, v := range map[string]*Vault{"desk": a.v, "laptop": b.v} {
		if db, err := store.Open(ctx, filepath.Join(v.Dir, store.Clinical.FileName()), store.Clinical, omar.kClin); err == nil {
			db.Close()
			t.Errorf("the demoted clinician's old clinical key opens the %s's clinical.db", name)
		} else if !errors.Is(err, store.ErrWrongKey) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for name, s := range map[string]*Session{"desk": a, "laptop": b} {
		c, err := s.OpenChart(ctx, p.MRN)
		if err != nil || len(c.Encounters) != 2 {
			t.Fatalf("the %s's chart after the change of key: %v %+v", name, err, c)
		}
	}
	// A laptop that was signed out re-keys at its next clinician sign-in.
	b.Lock(ctx)
	b2 := signInOn(t, f, b.v, "Maria Admin", adminPass)
	if c, err := b2.OpenChart(ctx, p.MRN); err != nil || len(c.Encounters) != 2 {
		t.Fatalf("after signing in again: %v %+v", err, c)
	}
}

// TestClinicalKeyChainAtSignIn: the laptop learns of a change of the
// clinical key while only a receptionist is signed in there (its keyring
// takes the new grants; its clinical.db stays under the old key). At the
// next admin's sign-in the grant gives the new key, the chain leads back
// to the old one, and the file is re-keyed: the demoted clinician's key no
// longer opens it.
func TestClinicalKeyChainAtSignIn(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
	f.addUser(a, "Rita Front", Receptionist, recPass)
	p, _, _ := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "before"})
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	oldKeys, _ := store.LoadKeyring(a.v.Dir)
	omar := unwrapInsider(t, oldKeys, "Dr Omar Haddad", docPass)
	laptop := b.v
	b.Lock(ctx)
	rita := signInOn(t, f, laptop, "Rita Front", recPass)
	if err := a.SetRole(ctx, "Dr Omar Haddad", Receptionist); err != nil {
		t.Fatal(err)
	}
	a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "after"})
	mustSync(t, a, dir)
	mustSync(t, rita, dir)
	rita.Lock(ctx)
	if db, err := store.Open(ctx, filepath.Join(laptop.Dir, store.Clinical.FileName()), store.Clinical, omar.kClin); err == nil {
		db.Close() // still under the old key, as expected before a clinician comes
	} else {
		t.Fatalf("before an admin signs in: %v", err)
	}
	m := signInOn(t, f, laptop, "Maria Admin", adminPass)
	mustSync(t, m, dir)
	if c, err := m.OpenChart(ctx, p.MRN); err != nil || len(c.Encounters) != 2 {
		t.Fatalf("chart on the laptop: %v %+v", err, c)
	}
	if db, err := store.Open(ctx, filepath.Join(laptop.Dir, store.Clinical.FileName()), store.Clinical, omar.kClin); err == nil {
		db.Close()
		t.Fatal("the laptop's clinical.db still opens with the demoted clinician's key after an admin signed in")
	}
}

// TestPassphraseChangeApartFromAKeyChange: a clinician changes her
// passphrase on the laptop while, at the desk, an admin demotes another
// clinician (the clinical key changes, and every clinician's grant with
// it). Both changes reach both computers: she signs in with her new
// passphrase on either and opens the charts, and the demoted clinician's
// old key opens neither computer's clinical.db.
func TestPassphraseChangeApartFromAKeyChange(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	const leePass = "juniper kettle orbit canvas"
	f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
	f.addUser(a, "Dr Mei Lee", Clinician, leePass)
	p, _, _ := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "before"})
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	oldKeys, _ := store.LoadKeyring(a.v.Dir)
	omar := unwrapInsider(t, oldKeys, "Dr Omar Haddad", docPass)

	// Apart.
	lee := signInOn(t, f, b.v, "Dr Mei Lee", leePass)
	const newPass = "harbour violin cactus midnight"
	if err := lee.ChangePassphrase(ctx, leePass, newPass); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Second)
	if err := a.SetRole(ctx, "Dr Omar Haddad", Receptionist); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Second)
	// Together again.
	for i := 0; i < 3; i++ {
		lee.Sync(ctx, dir)
		a.Sync(ctx, dir)
		b.Sync(ctx, dir)
	}
	// (A clinical.db is re-keyed only while one session is open on its
	// computer: the laptop's two close here, and the next sign-in does it.)
	lee.Lock(ctx)
	b.Lock(ctx)
	for name, v := range map[string]*Vault{"desk": a.v, "laptop": b.v} {
		f.clk.Advance(totpPeriod * time.Second)
		s, err := v.SignIn(ctx, "Dr Mei Lee", newPass, f.codeFor(f.secrets["Dr Mei Lee"]))
		if err != nil {
			t.Fatalf("Dr Lee on the %s: %v", name, err)
		}
		c, err := s.OpenChart(ctx, p.MRN)
		s.Lock(ctx)
		if err != nil || len(c.Encounters) != 1 {
			t.Fatalf("Dr Lee's chart on the %s: %v %+v", name, err, c)
		}
		if db, err := store.Open(ctx, filepath.Join(v.Dir, store.Clinical.FileName()), store.Clinical, omar.kClin); err == nil {
			db.Close()
			t.Errorf("the demoted clinician's old key opens the %s's clinical.db", name)
		}
	}
}

// TestTwoKeyChangesApart: two admins, apart, each take clinical access
// away from a different clinician: two new clinical keys. Once the
// computers meet, every admin still signs in on every computer (nobody is
// locked out of the practice), and whoever can open the charts there
// does.
func TestTwoKeyChangesApart(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	const bobPass = "marble orchestra lantern velvet"
	f.addUser(a, "Bob Admin", Admin, bobPass)
	f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
	f.addUser(a, "Dr Mei Lee", Clinician, "juniper kettle orbit canvas")
	p, _, _ := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "before"})
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	b.Lock(ctx)
	bob := signInOn(t, f, b.v, "Bob Admin", bobPass)
	// Apart.
	if err := a.SetRole(ctx, "Dr Omar Haddad", Receptionist); err != nil {
		t.Fatal(err)
	}
	if err := bob.SetRole(ctx, "Dr Mei Lee", Receptionist); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		a.Sync(ctx, dir)
		bob.Sync(ctx, dir)
	}
	bob.Lock(ctx)
	a.Lock(ctx)
	for _, who := range []struct{ name, pass string }{{"Maria Admin", adminPass}, {"Bob Admin", bobPass}} {
		for comp, v := range map[string]*Vault{"desk": a.v, "laptop": b.v} {
			f.clk.Advance(totpPeriod * time.Second)
			s, err := v.SignIn(ctx, who.name, who.pass, f.codeFor(f.secrets[who.name]))
			if err != nil {
				t.Errorf("%s cannot sign in on the %s after two key changes apart: %v", who.name, comp, err)
				continue
			}
			if c, err := s.OpenChart(ctx, p.MRN); err != nil || len(c.Encounters) != 1 {
				t.Errorf("%s on the %s: chart %v %+v", who.name, comp, err, c)
			}
			s.Lock(ctx)
		}
	}
}

// TestKeyChangesApartThenSignIn: as above, but the desk is signed out
// when the laptop's change arrives (a receptionist takes it there): the
// desk's clinical.db is under the desk's new key, the admin's grant now
// gives the laptop's. Her sign-in must still open the charts.
func TestKeyChangesApartThenSignIn(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	const bobPass = "marble orchestra lantern velvet"
	f.addUser(a, "Bob Admin", Admin, bobPass)
	f.addUser(a, "Rita Front", Receptionist, recPass)
	f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
	f.addUser(a, "Dr Mei Lee", Clinician, "juniper kettle orbit canvas")
	p, _, _ := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "before"})
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	b.Lock(ctx)
	bob := signInOn(t, f, b.v, "Bob Admin", bobPass)
	// Apart: the desk first, then the laptop (whose grants win).
	if err := a.SetRole(ctx, "Dr Omar Haddad", Receptionist); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	a.Lock(ctx)
	f.clk.Advance(time.Second)
	if err := bob.SetRole(ctx, "Dr Mei Lee", Receptionist); err != nil {
		t.Fatal(err)
	}
	bob.Sync(ctx, dir)
	bob.Sync(ctx, dir)
	bob.Lock(ctx)
	rita := signInOn(t, f, a.v, "Rita Front", recPass)
	rita.Sync(ctx, dir)
	rita.Lock(ctx)
	for _, v := range []*Vault{a.v, b.v} {
		m := signInOn(t, f, v, "Maria Admin", adminPass)
		m.Sync(ctx, dir)
		if c, err := m.OpenChart(ctx, p.MRN); err != nil || len(c.Encounters) != 1 {
			t.Fatalf("the admin's chart on %s after two key changes apart: %v %+v", v.Dir, err, c)
		}
		m.Lock(ctx)
	}
}

// TestAttackDepartedOpensNoLaterBackup: a receptionist keeps her old slot
// and general key when she leaves. A backup made before she left opens
// for her (old data, which she had); one made after does not, neither
// with her slot nor with the general key (backups used to be sealed under
// a key derived from it).
func TestAttackDepartedOpensNoLaterBackup(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(a, "Rita Front", Receptionist, recPass)
	a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	before, err := a.CreateBackup(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	kr, _ := store.LoadKeyring(a.v.Dir)
	rita := unwrapInsider(t, kr, "Rita Front", recPass)
	if err := a.RemoveUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	a.AddPatient(ctx, Patient{Given: "Later", Family: "Registered", DOB: "1990-01-01"})
	after, err := a.CreateBackup(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := unpackBackup(before.Path, backupKeyFor(rita.secrets.Identity, rita.slot.UserID, rita.kGen), t.TempDir(), nil); err != nil {
		t.Fatalf("a backup from before she left: %v", err)
	}
	if _, _, err := unpackBackup(after.Path, backupKeyFor(rita.secrets.Identity, rita.slot.UserID, rita.kGen), t.TempDir(), nil); err == nil {
		t.Fatal("the departed receptionist opens a backup made after she left")
	}
	legacy := func(h *store.BackupHeader) ([]byte, error) { return store.BackupKey(rita.kGen, h.VaultID), nil }
	if _, _, err := unpackBackup(after.Path, legacy, t.TempDir(), nil); err == nil {
		t.Fatal("a backup made after she left opens with a key derived from her general key")
	}
	// The admin and the recovery key still open and restore it.
	if _, err := a.VerifyBackup(ctx, after.Path, nil); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := NewVault(filepath.Join(t.TempDir(), "restored")).RestoreBackupWithRecoveryKey(ctx, after.Path, f.recovery, nil); err != nil {
		t.Fatalf("restore with the recovery key: %v", err)
	}
}
