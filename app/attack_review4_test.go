package app

// Fourth insider review: the general database key's change at a
// departure, and both keys' lineage (general_keys.go, key_chain.go). Each
// test plays the attacker with what they really hold, and fails while the
// attack works.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// review4Hide moves the batches of device's log after seq out of the
// shared folder (a folder writer deleting them), and returns a function
// that puts them back.
func review4Hide(t *testing.T, dir, device string, after uint64) func() {
	t.Helper()
	f := cvsync.Folder{Dir: dir}
	seqs, err := f.Seqs(device, after)
	if err != nil || len(seqs) == 0 {
		t.Fatalf("nothing to hide in %s's log after %d: %v", shortID(device), after, err)
	}
	stash := t.TempDir()
	type moved struct{ from, to string }
	var ms []moved
	for _, q := range seqs {
		from := filepath.Join(dir, "devices", device, fmt.Sprintf("%012d", q))
		to := filepath.Join(stash, fmt.Sprintf("%012d", q))
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, moved{from, to})
	}
	return func() {
		for _, m := range ms {
			if err := os.Rename(m.to, m.from); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestAttackReview4ComputerThatMissedARemovalHandsTheNewKeyToTheRemoved:
// the desk removes Rita (general key K1 -> K2); a third computer, which
// received that, later removes a temp (K2 -> K3, granted to everyone but
// Rita). Rita, who can still write the shared folder, deletes the desk's
// removal batch before the laptop reads it, so the laptop never hears of
// her removal — but it does receive the third computer's batch, whose
// grant names the newer key, and moves its general.db there. The laptop
// then seals its new key to every slot its vault.keys still lists (its
// escrow), Rita's included, and its admin's pass renews her "stale" grant
// with the new key. Rita copies the laptop's vault.keys: the key she
// opens there is the one the whole practice ends up under, once the
// desk's batch is back and everyone is in step. No admin pass ever
// replaces it (there is no fork), so every patient registered after her
// removal, on every computer, opens with it.
func TestAttackReview4ComputerThatMissedARemovalHandsTheNewKeyToTheRemoved(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	// Earlier departures (this only makes the test deterministic: the
	// practice's key before Rita's removal gets a low id, see below).
	review4LowKeyID(t, f, a)
	mustSync(t, a, dir)
	cv := pair(t, f, a, dir, "third")
	mustSync(t, a, dir)
	c := signInOn(t, f, cv, "Maria Admin", adminPass)
	mustSync(t, c, dir)
	mustSync(t, b, dir)
	mustSync(t, c, dir)
	kr, _ := store.LoadKeyring(a.v.Dir)
	rita := unwrapInsider(t, kr, "Rita Front", recPass)

	deskBefore, _ := c.lastReceived(ctx, a.DeviceID())
	if err := a.RemoveUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, c, dir) // the third computer hears of it and moves
	if !bytesEqual(a.kGen, c.kGen) {
		t.Fatal("setup: the third computer did not follow the desk's new key")
	}
	// Rita deletes the desk's batches from the folder before the laptop
	// reads them.
	putBack := review4Hide(t, dir, a.DeviceID(), deskBefore)

	// The third computer goes on with its own departures (a temp hired
	// and let go); the laptop takes each of its batches. (Each new key is
	// drawn at random: the laptop, with no lineage from its key to the
	// third computer's, moves when the new key's id is the greater — most
	// times, its own key's id being low; each further change follows the
	// lineage from there.)
	for i := 0; i < 16; i++ {
		name := fmt.Sprintf("Temp Third %d", i)
		f.addUser(c, name, Receptionist, review4TempPass)
		f.clk.Advance(time.Minute)
		if err := c.RemoveUser(ctx, name); err != nil {
			t.Fatal(err)
		}
		mustSync(t, c, dir)
		if _, err := b.Sync(ctx, dir); err != nil {
			t.Fatal(err)
		}
		if bytesEqual(b.kGen, c.kGen) {
			break
		}
	}
	if !bytesEqual(b.kGen, c.kGen) {
		t.Skip("setup: the laptop never moved to the third computer's key (each try one in two)")
	}
	// What Rita takes: a copy of the laptop's data folder.
	hers := filepath.Join(t.TempDir(), "ritas-copy-of-laptop")
	copyDir(t, b.v.Dir, hers)

	// The desk's batches come back; everyone gets in step, the desk
	// registers a patient.
	putBack()
	for i := 0; i < 3; i++ {
		f.clk.Advance(time.Minute)
		for _, s := range []*Session{a, b, c} {
			if _, err := s.Sync(ctx, dir); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, _, err := a.AddPatient(ctx, Patient{Given: "Ben", Family: "Registered-After", DOB: "1971-02-02"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	mustSync(t, c, dir)

	stolen, err := store.LoadKeyring(hers)
	if err != nil {
		t.Fatal(err)
	}
	escrowed := escrowKey(stolen, rita.secrets.Identity, rita.slot.UserID)
	granted := review3GeneralGrant(t, hers, rita, stolen.VaultID)
	for what, key := range map[string][]byte{"escrow box": escrowed, "renewed grant": granted} {
		for name, d := range map[string]string{"desk": a.v.Dir, "laptop": b.v.Dir, "third computer": cv.Dir} {
			if readsPatient(t, d, key, "Registered-After") {
				t.Errorf("removed Rita's %s in the laptop's vault.keys opens the %s's general.db and the patient registered after her removal", what, name)
			}
		}
	}
}

const review4TempPass = "copper lantern meadow thirteen"

// review4LowKeyID hires and lets go temps at s until the general key's id
// is low (below "4"): a later key drawn elsewhere, compared by id alone,
// is then the greater three times in four.
func review4LowKeyID(t *testing.T, f *fixture, s *Session) {
	t.Helper()
	for i := 0; i < 40 && generalLine.id(s.kGen) >= "4"; i++ {
		name := fmt.Sprintf("Temp Before %d", i)
		f.addUser(s, name, Receptionist, review4TempPass)
		if err := s.RemoveUser(context.Background(), name); err != nil {
			t.Fatal(err)
		}
	}
	if generalLine.id(s.kGen) >= "4" {
		t.Skip("setup: no low key id in 40 draws")
	}
}

// readsNote reports whether key opens the clinical.db of dataDir and
// finds an encounter whose assessment is assessment.
func readsNote(dataDir string, key []byte, assessment string) bool {
	if key == nil {
		return false
	}
	db, err := store.Open(context.Background(), filepath.Join(dataDir, store.Clinical.FileName()), store.Clinical, key)
	if err != nil {
		return false
	}
	defer db.Close()
	var n int
	db.QueryRow(`SELECT count(*) FROM encounters WHERE assessment = ?`, assessment).Scan(&n)
	return n > 0
}

// TestAttackReview4ComputerThatMissedARemovalGrantsTheClinicalKeyToTheRemoved:
// the same for the clinical key. The desk removes Dr Omar (clinical key
// Kc1 -> Kc2). A third computer, which received that, later lets a temp
// clinician go (Kc2 -> Kc3, granted to the clinicians it knows: not
// Omar). Omar, who can still write the shared folder, deletes the desk's
// removal batch before the laptop reads it. The laptop takes the third
// computer's batch, moves its clinical.db to Kc3, and its admin's pass
// finds Omar's grant "stale" (it names Kc1, which the laptop's own history
// shows replaced by Kc3) and grants him Kc3 — in the laptop's vault.keys,
// and in his replicated slot. Omar copies the laptop's vault.keys, opens
// that grant with his old identity key, and reads every computer's charts,
// notes written after he left included; no admin pass ever replaces Kc3.
func TestAttackReview4ComputerThatMissedARemovalGrantsTheClinicalKeyToTheRemoved(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
	p, _, err := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "before Omar left"}); err != nil {
		t.Fatal(err)
	}
	// Earlier departures of temp clinicians (only to make the test
	// deterministic: the clinical key before Omar's removal gets a low id).
	for i := 0; i < 40 && clinicalLine.id(a.kClin) >= "4"; i++ {
		name := fmt.Sprintf("Dr Temp Before %d", i)
		f.addUser(a, name, Clinician, review4TempPass)
		if err := a.RemoveUser(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if clinicalLine.id(a.kClin) >= "4" {
		t.Skip("setup: no low clinical key id in 40 draws")
	}
	mustSync(t, a, dir)
	cv := pair(t, f, a, dir, "third")
	mustSync(t, a, dir)
	c := signInOn(t, f, cv, "Maria Admin", adminPass)
	mustSync(t, c, dir)
	mustSync(t, b, dir)
	mustSync(t, c, dir)
	if !bytesEqual(b.kClin, a.kClin) || !bytesEqual(c.kClin, a.kClin) {
		t.Fatal("setup: the three computers are not under one clinical key")
	}
	kr, _ := store.LoadKeyring(a.v.Dir)
	omar := unwrapInsider(t, kr, "Dr Omar Haddad", docPass)

	deskBefore, _ := c.lastReceived(ctx, a.DeviceID())
	if err := a.RemoveUser(ctx, "Dr Omar Haddad"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, c, dir)
	if !bytesEqual(a.kClin, c.kClin) {
		t.Fatal("setup: the third computer did not follow the desk's new clinical key")
	}
	// Omar deletes the desk's batches before the laptop reads them.
	putBack := review4Hide(t, dir, a.DeviceID(), deskBefore)
	for i := 0; i < 16; i++ {
		name := fmt.Sprintf("Dr Temp Third %d", i)
		f.addUser(c, name, Clinician, review4TempPass)
		f.clk.Advance(time.Minute)
		if err := c.RemoveUser(ctx, name); err != nil {
			t.Fatal(err)
		}
		mustSync(t, c, dir)
		if _, err := b.Sync(ctx, dir); err != nil {
			t.Fatal(err)
		}
		if bytesEqual(b.kClin, c.kClin) {
			break
		}
	}
	if !bytesEqual(b.kClin, c.kClin) {
		t.Skip("setup: the laptop never moved to the third computer's clinical key")
	}
	if _, err := b.Sync(ctx, dir); err != nil { // the admin's next pass
		t.Fatal(err)
	}
	his := filepath.Join(t.TempDir(), "omars-copy-of-laptop")
	copyDir(t, b.v.Dir, his)

	putBack()
	for i := 0; i < 3; i++ {
		f.clk.Advance(time.Minute)
		for _, s := range []*Session{a, b, c} {
			if _, err := s.Sync(ctx, dir); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "written after Omar left"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	mustSync(t, c, dir)

	stolen, err := store.LoadKeyring(his)
	if err != nil {
		t.Fatal(err)
	}
	slot, err := stolen.SlotByID(omar.slot.UserID)
	if err != nil {
		t.Fatalf("setup: no slot for Omar in the laptop's vault.keys: %v", err)
	}
	key, err := store.OpenGrant(omar.secrets.Identity, stolen.VaultID, slot.UserID, slot.Role, store.Clinical, slot.Grants[store.Clinical])
	if err != nil {
		key = nil
	}
	for name, d := range map[string]string{"desk": a.v.Dir, "laptop": b.v.Dir, "third computer": cv.Dir} {
		if readsNote(d, key, "written after Omar left") {
			t.Errorf("removed Dr Omar's clinical grant in the laptop's vault.keys opens the %s's clinical.db and the note written after he left", name)
		}
	}
}
