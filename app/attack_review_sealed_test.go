package app

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// Review attacks on batches kept sealed until a clinician signs in: a
// sealed batch swapped, and a sealed placeholder that forks a log.

// TestAttackReviewSealedBatchSwappedBeforeTheClinicianComes: the laptop is
// used by a receptionist only; it checks A's clinical batch (place,
// device signature), keeps it sealed and moves on. Anyone who can write
// to the folder then swaps that file for junk until a clinician signs in
// on the laptop. The pass that opens sealed batches judges whatever file
// is there now — not the one that was checked (its hash is in
// sync_received) — and records the genuine batch's place as refused for
// good: the sealed list is never looked at again, the genuine file coming
// back changes nothing, and the next applied batch of A clears the
// problem line. The encounter is lost on the laptop without a trace.
func TestAttackReviewSealedBatchSwappedBeforeTheClinicianComes(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	p, _, err := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	b.Lock(ctx)
	rita := signInOn(t, f, b.v, "Rita Front", recPass)
	mustSync(t, rita, dir)

	if _, err := a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "must reach the laptop"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	if rep := mustSync(t, rita, dir); rep.Sealed != 1 {
		t.Fatalf("the clinical batch was not kept sealed: %+v", rep)
	}
	_, path := clinicalBatchOf(t, dir, a.DeviceID())
	genuine, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The swap (a damaged copy: its header is intact).
	flipped := append([]byte(nil), genuine...)
	flipped[len(flipped)-1] ^= 1 // one bit of the device signature
	if err := os.WriteFile(path, flipped, 0o600); err != nil {
		t.Fatal(err)
	}
	rita.Lock(ctx)
	doc := signInOn(t, f, b.v, "Maria Admin", adminPass)
	doc.Sync(ctx, dir) // judges the swapped file at the sealed place
	// The genuine file is back, and A goes on writing.
	if err := os.WriteFile(path, genuine, 0o600); err != nil {
		t.Fatal(err)
	}
	a.AddPatient(ctx, Patient{Given: "Later", Family: "Change", DOB: "1980-01-01"})
	mustSync(t, a, dir)
	for pass := 0; pass < 2; pass++ {
		doc.Sync(ctx, dir)
	}
	var n int
	doc.clinical.QueryRow(`SELECT count(*) FROM encounters`).Scan(&n)
	if n != 1 {
		var state string
		doc.general.QueryRow(`SELECT state FROM sync_received WHERE device = ? AND state != 'applied'`, a.DeviceID()).Scan(&state)
		devs, _ := doc.Devices(ctx)
		shown := false
		for _, d := range devs {
			if d.ID == a.DeviceID() && (d.Halted || !d.Problem.IsZero()) {
				shown = true
			}
		}
		t.Fatalf("the genuine encounter batch is back in the folder but never applied on the laptop (its place is %q; shown as a problem: %v)", state, shown)
	}
}

// TestAttackReviewSealedPlaceholderForksAReceptionistsLog: Rita writes, at A's
// next number, a file with a clinical header, A's device signature (A's
// device key from general.db) and junk inside — she has no clinical key
// and needs none. The laptop, where only she signs in, checks place and
// device signature, keeps it "sealed" and records its hash as batch k of
// A. A (a clinician signed in) cannot open it, so it replaces it with its
// genuine batch k and goes on with k+1 after the genuine hash. On the
// laptop k+1 does not follow the sealed file's hash: A's log halts there
// for good, and when a clinician later opens the sealed place the genuine
// k applies but sync_received keeps the junk's hash (markReceived's
// upsert does not update hash), so it stays halted.
func TestAttackReviewSealedPlaceholderForksAReceptionistsLog(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	b.Lock(ctx)
	rita := signInOn(t, f, b.v, "Rita Front", recPass)
	mustSync(t, rita, dir)

	kr, _ := store.LoadKeyring(a.v.Dir)
	in, _, signKey, devKey := deskKeysAs(t, a.v.Dir, kr, "Rita Front", recPass)
	seq, prev := lastInFolder(t, dir, a.DeviceID())
	hlc := cvsync.Timestamp{Wall: uint64(f.clk.Now().UnixMilli()), Device: a.DeviceID()}
	v := "junk"
	forge(t, dir, kr.VaultID, a.DeviceID(), seq+1, prev, 0, cvsync.Clinical, store.NewKey(), in.slot.UserID, signKey, devKey,
		[]cvsync.Record{{HLC: hlc.String(), Table: "allergies", RowID: newID(), Columns: map[string]*string{"substance": &v}, Device: a.DeviceID(), Author: in.slot.UserID}})
	if rep, _ := rita.Sync(ctx, dir); rep.Sealed != 1 {
		t.Fatalf("expected the placeholder kept sealed: %+v", rep)
	}
	for _, fam := range []string{"Kilo", "Lima"} {
		f.clk.Advance(time.Minute)
		a.AddPatient(ctx, Patient{Given: "Desk", Family: fam, DOB: "1980-01-01"})
		if _, err := a.Sync(ctx, dir); err != nil {
			t.Fatal(err)
		}
	}
	for pass := 0; pass < 2; pass++ {
		rita.Sync(ctx, dir)
	}
	if got, _ := rita.SearchPatients(ctx, "desk", 5); len(got) != 2 {
		devs, _ := rita.Devices(ctx)
		for _, d := range devs {
			if d.ID == a.DeviceID() {
				t.Errorf("receptionist's laptop: %d of A's 2 new patients; A's log: halted %v at %d: %s", len(got), d.Halted, d.HaltedAt, d.Problem)
			}
		}
	}
	// A clinician signs in on the laptop.
	rita.Lock(ctx)
	doc := signInOn(t, f, b.v, "Maria Admin", adminPass)
	for pass := 0; pass < 2; pass++ {
		doc.Sync(ctx, dir)
	}
	if got, _ := doc.SearchPatients(ctx, "desk", 5); len(got) != 2 {
		t.Fatalf("after a clinician's passes on the laptop: %d of A's 2 new patients", len(got))
	}
}
