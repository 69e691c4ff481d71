package app

// Third insider review: the change of the clinical key at departures
// (clinical_keys.go), the two-part keyring slots and per-backup keys.
// Each test plays the attacker with what that person really holds.

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// review3SelfServiceSlot is Rita's own batch: her keyring slot (the
// owner's part, self-service), one version up, her role unchanged, with
// edit applied to it, signed by her into the desk's log (she signs in at
// the desk: her general key opens its general.db and its device key).
func review3SelfServiceSlot(t *testing.T, f *fixture, dir string, a *Session, edit func(*store.Slot)) {
	t.Helper()
	kr, err := store.LoadKeyring(a.v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	rita, key, signKey, devKey := deskKeysAs(t, a, kr, "Rita Front", recPass)
	slot := *rita.slot
	slot.Version++
	edit(&slot)
	js, _ := json.Marshal(&slot)
	v := string(js)
	seq, prev := lastInFolder(t, dir, a.DeviceID())
	hlc := cvsync.Timestamp{Wall: uint64(f.clk.Now().UnixMilli()), Device: a.DeviceID()}
	rec := cvsync.Record{HLC: hlc.String(), Table: "keyring_slots", RowID: slot.UserID,
		Columns: map[string]*string{"slot": &v}, Device: a.DeviceID(), Author: slot.UserID}
	forge(t, dir, kr.VaultID, a.DeviceID(), seq+1, prev, 0, cvsync.General, key, slot.UserID, signKey, devKey, []cvsync.Record{rec})
}

// TestAttackReview3SelfServiceSlotTakesAColleaguesName: the owner's part of a
// slot is accepted from its owner when it keeps her id and role and moves
// its version up — but its name is hers to choose. Rita (added before
// Dr Omar) renames her slot "Dr Omar Haddad". Sign-in finds slots by
// name, first match: from then on, on every computer, Omar's passphrase
// meets Rita's slot and he cannot sign in (each try counts against Rita's
// throttle). Rita, meanwhile, signs in under his name.
func TestAttackReview3SelfServiceSlotTakesAColleaguesName(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	f.clk.Advance(time.Minute)

	review3SelfServiceSlot(t, f, dir, a, func(s *store.Slot) { s.Name = "Dr Omar Haddad" })
	rep, err := b.Sync(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(totpPeriod * time.Second)
	s, err := b.v.SignIn(ctx, "Dr Omar Haddad", docPass, f.codeFor(f.secrets["Dr Omar Haddad"]))
	if err != nil {
		t.Fatalf("after Rita's own-slot batch (applied %d), Dr Omar cannot sign in on the laptop: %v", rep.Applied, err)
	}
	s.Lock(ctx)
}

// TestAttackReview3SelfServiceSlotBlocksEveryDeparture: Rita's own slot, one
// version up, with a public key that is a low-order X25519 point. It is
// accepted as self-service. From then on every key change seals to her
// slot and fails: no admin can remove or demote anyone (the departures
// that must rotate keys do not happen at all).
func TestAttackReview3SelfServiceSlotBlocksEveryDeparture(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	f.clk.Advance(time.Minute)

	review3SelfServiceSlot(t, f, dir, a, func(s *store.Slot) { s.PublicKey = make([]byte, 32) })
	rep, err := b.Sync(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveUser(ctx, "Dr Omar Haddad"); err != nil {
		t.Fatalf("after Rita's own-slot batch (applied %d), the admin cannot remove Dr Omar: %v", rep.Applied, err)
	}
}

// TestAttackReview3PassphraseChangeApartFromARoleChangeHaltsTheLaptop: Dr Omar
// changes his passphrase on the laptop while, at the desk, the admin makes
// him a receptionist. The owner's part of his slot (as written on the
// laptop) names his role of the time; the desk judges it against his role
// of now, refuses the batch and halts the laptop's whole log there: every
// later change made on the laptop, by anyone, never reaches the desk.
func TestAttackReview3PassphraseChangeApartFromARoleChangeHaltsTheLaptop(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	b.Lock(ctx)
	// Apart.
	omar := signInOn(t, f, b.v, "Dr Omar Haddad", docPass)
	if err := omar.ChangePassphrase(ctx, docPass, "harbour violin cactus midnight"); err != nil {
		t.Fatal(err)
	}
	omar.Lock(ctx)
	f.clk.Advance(time.Second)
	if err := a.SetRole(ctx, "Dr Omar Haddad", Receptionist); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	// Omar's change waits on the laptop until he signs in there again
	// (changes are sent by their author): he does, as a receptionist now.
	f.clk.Advance(totpPeriod * time.Second)
	o2, err := b.v.SignIn(ctx, "Dr Omar Haddad", "harbour violin cactus midnight", f.codeFor(f.secrets["Dr Omar Haddad"]))
	if err != nil {
		t.Fatal(err)
	}
	o2.Sync(ctx, dir)
	o2.Lock(ctx)
	m := signInOn(t, f, b.v, "Maria Admin", adminPass)
	if _, _, err := m.AddPatient(ctx, Patient{Given: "Registered", Family: "Onthelaptop", DOB: "1980-02-02"}); err != nil {
		t.Fatal(err)
	}
	var problems []string
	for i := 0; i < 3; i++ {
		mrep, merr := m.Sync(ctx, dir)
		rep, _ := a.Sync(ctx, dir)
		problems = append(append(rep.Problems, mrep.Problems...), fmt.Sprint(merr))
		f.clk.Advance(time.Minute)
	}
	if got, _ := a.SearchPatients(ctx, "onthelaptop", 5); len(got) != 1 {
		t.Fatalf("the laptop's later changes never reach the desk: its log halted at Omar's passphrase change (%q)", problems)
	}
}

// TestAttackReview3RekeyUnderAnotherOpenSession: two ClinicVault processes on
// one data folder (the GUI and the command line, or two windows): Dr Lee
// is signed in in one, the admin in the other. The admin removes Dr Omar;
// her process re-keys clinical.db by copying it and renaming the copy over
// the file, and deletes its WAL. Dr Lee's process still has the old file
// open. What she charts next must not be lost.
func TestAttackReview3RekeyUnderAnotherOpenSession(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const leePass = "juniper kettle orbit canvas"
	a := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
	f.addUser(a, "Dr Mei Lee", Clinician, leePass)
	p, _, _ := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "before"})
	lee := f.mustSignIn("Dr Mei Lee", leePass) // the other process
	if err := a.RemoveUser(ctx, "Dr Omar Haddad"); err != nil {
		t.Fatal(err)
	}
	_, werr := lee.AddEncounter(ctx, p.MRN, SOAP{Assessment: "charted in the other window after the key change"})
	lee.Lock(ctx)
	a.Lock(ctx)
	s := f.mustSignIn("Dr Mei Lee", leePass)
	c, err := s.OpenChart(ctx, p.MRN)
	if err != nil {
		t.Fatal(err)
	}
	if werr == nil && len(c.Encounters) != 2 {
		t.Fatalf("Dr Lee's encounter, saved without error in her open session while the other process re-keyed clinical.db, is gone (%d encounters)", len(c.Encounters))
	}
	if werr != nil {
		t.Fatalf("Dr Lee's session cannot chart any more after a re-key in another process: %v", werr)
	}
}
