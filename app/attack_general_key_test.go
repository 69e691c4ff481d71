package app

// A departure changes the general database key (general_keys.go). Each
// test plays someone who left, or a thief, with what they really hold: a
// copy of vault.keys from before, their passphrase, and later a copy of a
// computer's general.db taken from its disk.

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// readsPatient reports whether key opens the general.db of dataDir and
// finds a patient named family there.
func readsPatient(t *testing.T, dataDir string, key []byte, family string) bool {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(dataDir, store.General.FileName()), store.General, key)
	if err != nil {
		return false
	}
	defer db.Close()
	var n int
	db.QueryRow(`SELECT count(*) FROM patients WHERE family = ?`, family).Scan(&n)
	return n > 0
}

// TestAttackRemovedReceptionistReadsPatientsRegisteredAfter: Rita kept a
// copy of vault.keys and knows her passphrase. After her removal the desk
// registers a patient and the laptop (signed in, syncing) receives it.
// Later she gets hold of each computer's general.db (a disk copied, a
// laptop borrowed): her old general key opens neither. Her own old copy
// still opens, with what it held when she left.
func TestAttackRemovedReceptionistReadsPatientsRegisteredAfter(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	if _, _, err := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Before", DOB: "1970-01-01"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	kr, _ := store.LoadKeyring(a.v.Dir)
	rita := unwrapInsider(t, kr, "Rita Front", recPass)
	hers := filepath.Join(t.TempDir(), "ritas-copy")
	copyDir(t, a.v.Dir, hers)

	if err := a.RemoveUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.AddPatient(ctx, Patient{Given: "Ben", Family: "After", DOB: "1971-02-02"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	if !readsPatient(t, b.v.Dir, b.kGen, "After") {
		t.Fatal("the laptop did not receive the patient registered after the removal")
	}
	for name, d := range map[string]string{"desk": a.v.Dir, "laptop": b.v.Dir} {
		if readsPatient(t, d, rita.kGen, "Before") || readsPatient(t, d, rita.kGen, "After") {
			t.Errorf("removed Rita's old general key opens the %s's general.db", name)
		}
	}
	if !readsPatient(t, hers, rita.kGen, "Before") {
		t.Error("her own old copy should still open with her old key (what the README says she keeps)")
	}
	// Everyone left signs in on both computers, the laptop after a restart.
	b.Lock(ctx)
	signInOn(t, f, b.v, "Maria Admin", adminPass).Lock(ctx)
}

// TestAttackRevokedLaptopsThiefReadsTheDesk: a laptop is stolen and
// revoked. The thief also learns a receptionist's passphrase. With the
// laptop's vault.keys that opens the general key the laptop held — which
// no longer opens the desk's general.db, nor the general.db of a computer
// that joins later.
func TestAttackRevokedLaptopsThiefReadsTheDesk(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	b.Lock(ctx)
	stolen, _ := store.LoadKeyring(b.v.Dir)
	thief := unwrapInsider(t, stolen, "Rita Front", recPass)
	if !readsPatient(t, b.v.Dir, thief.kGen, "nobody") && !review3OpensKind(b.v.Dir, store.General, thief.kGen) {
		t.Fatal("the stolen laptop's own general.db should open with what the thief holds")
	}
	mustSync(t, a, dir) // what the laptop sent before it went missing
	if err := a.RevokeDevice(ctx, dir, b.DeviceID()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.AddPatient(ctx, Patient{Given: "Cy", Family: "Later", DOB: "1972-03-03"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	if review3OpensKind(a.v.Dir, store.General, thief.kGen) {
		t.Error("the general key on the revoked laptop opens the desk's general.db")
	}
	nv := pair(t, f, a, dir, "new-laptop")
	mustSync(t, a, dir)
	if review3OpensKind(nv.Dir, store.General, thief.kGen) {
		t.Error("the general key on the revoked laptop opens a computer that joined after")
	}
	// The desk's own people sign in as before.
	a.Lock(ctx)
	s := signInOn(t, f, a.v, "Rita Front", recPass)
	if _, err := s.SearchPatients(ctx, "Later", 10); err != nil {
		t.Fatal(err)
	}
	s.Lock(ctx)
}

// TestGeneralKeyMovesAtTheNextSignInWhenTwoSessionsWereOpen: the change
// arrives while two sessions are open on the laptop (a window and a
// command), so the file cannot be replaced under them. Both go on under
// the old key; the next sign-in (the grant names the new key, the file
// opens with the laptop's escrow) moves the file, and the departed
// person's key opens it no more.
func TestGeneralKeyMovesAtTheNextSignInWhenTwoSessionsWereOpen(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	kr, _ := store.LoadKeyring(a.v.Dir)
	rita := unwrapInsider(t, kr, "Rita Front", recPass)
	second := signInOn(t, f, b.v, "Maria Admin", adminPass)
	if err := a.RemoveUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	if !review3OpensKind(b.v.Dir, store.General, rita.kGen) {
		t.Fatal("the laptop's file moved under an open second session")
	}
	if _, _, err := second.AddPatient(ctx, Patient{Given: "Dee", Family: "Meanwhile", DOB: "1973-04-04"}); err != nil {
		t.Fatalf("the second session stopped working: %v", err)
	}
	second.Lock(ctx)
	b.Lock(ctx)
	f.clk.Advance(time.Minute)
	s := signInOn(t, f, b.v, "Maria Admin", adminPass)
	defer s.Lock(ctx)
	if review3OpensKind(b.v.Dir, store.General, rita.kGen) {
		t.Error("after the next sign-in the laptop's general.db still opens with the departed person's key")
	}
	if !bytesEqual(s.kGen, a.kGen) {
		t.Error("the laptop is not under the desk's general key")
	}
	if ps, err := s.SearchPatients(ctx, "Meanwhile", 10); err != nil || len(ps) != 1 {
		t.Fatalf("the patient registered meanwhile: %v %v", ps, err)
	}
}

// TestAttackGeneralKeysMadeApartLeaveNoOneIn: the desk removes Rita while
// the laptop, apart, removes Sam. Each draws a general key and grants it
// to everyone it still knows — Rita on the laptop, Sam at the desk. Once
// they meet, an admin replaces both keys with one that neither holds;
// everyone else still signs in on both computers.
func TestAttackGeneralKeysMadeApartLeaveNoOneIn(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	const samPass = "velvet harbour copper seventeen"
	f.addUser(a, "Rita Front", Receptionist, recPass)
	f.addUser(a, "Sam Desk", Receptionist, samPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	kr, _ := store.LoadKeyring(a.v.Dir)
	rita := unwrapInsider(t, kr, "Rita Front", recPass)
	sam := unwrapInsider(t, kr, "Sam Desk", samPass)

	if err := a.RemoveUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Second)
	if err := b.RemoveUser(ctx, "Sam Desk"); err != nil {
		t.Fatal(err)
	}
	// What each could take while apart: the other computer's grant to them.
	ritasLaptop := filepath.Join(t.TempDir(), "laptop-copy")
	copyDir(t, b.v.Dir, ritasLaptop)
	for i := 0; i < 4; i++ {
		a.Sync(ctx, dir)
		b.Sync(ctx, dir)
		f.clk.Advance(time.Minute)
	}
	if _, _, err := a.AddPatient(ctx, Patient{Given: "Eve", Family: "Afterwards", DOB: "1974-05-05"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	if heads, err := generalLine.heads(ctx, a.general); err != nil || len(heads) != 1 {
		t.Errorf("the desk sees %d general keys standing (%v), want one", len(heads), err)
	}
	grantedApart := review3GeneralGrant(t, ritasLaptop, rita, kr.VaultID)
	for name, v := range map[string]*Vault{"desk": a.v, "laptop": b.v} {
		for who, k := range map[string][]byte{"Rita's old": rita.kGen, "Sam's old": sam.kGen, "Rita's, granted apart": grantedApart} {
			if review3OpensKind(v.Dir, store.General, k) {
				t.Errorf("%s general key opens the %s's general.db", who, name)
			}
		}
	}
	if !bytesEqual(a.kGen, b.kGen) {
		t.Error("the two computers are under different general keys")
	}
	a.Lock(ctx)
	b.Lock(ctx)
	signInOn(t, f, a.v, "Maria Admin", adminPass).Lock(ctx)
	signInOn(t, f, b.v, "Maria Admin", adminPass).Lock(ctx)
}

// review3GeneralGrant opens the general grant a copy of vault.keys holds
// for in, or returns nil.
func review3GeneralGrant(t *testing.T, dataDir string, in insider, vaultID string) []byte {
	t.Helper()
	kr, err := store.LoadKeyring(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	slot, err := kr.SlotByID(in.slot.UserID)
	if err != nil {
		return nil
	}
	key, err := store.OpenGrant(in.secrets.Identity, vaultID, slot.UserID, slot.Role, store.General, slot.Grants[store.General])
	if err != nil {
		return nil
	}
	return key
}

// TestBackupMadeBeforeTheGeneralKeyChangedStillVerifies: a backup taken
// before a departure is under the general key of then; verifying it
// afterwards follows the lineage back.
func TestBackupMadeBeforeTheGeneralKeyChangedStillVerifies(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	defer a.Lock(ctx)
	f.addUser(a, "Rita Front", Receptionist, recPass)
	a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	info, err := a.CreateBackup(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	old := append([]byte(nil), a.kGen...)
	if err := a.RemoveUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	if bytesEqual(old, a.kGen) {
		t.Fatal("the general key did not change at the removal")
	}
	if _, err := a.VerifyBackup(ctx, info.Path, nil); err != nil {
		t.Fatalf("verify a backup made before the change: %v", err)
	}
}
