package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// Insider attacks on the shared folder and the sync logs: dropped,
// forged and junk batches, a sender wedged, a removed admin writing back.

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
