package app

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// Insider attacks through backups: keys of the computer carried in a
// backup, and a departed person opening a later one.

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
