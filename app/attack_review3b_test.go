package app

// Third insider review, the two attacks that stood until both database
// keys got a lineage in clear (key_chain.go): two admins changing a key
// while apart. Each failed on the commit that kept them in .review/.

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// TestReview3RemovedClinicianGetsTheKeyMadeApart: Dr Omar is removed at
// the desk (new clinical key K1, not granted to him). Meanwhile on the
// laptop, apart, another admin demotes Dr Lee: the laptop draws K2 and
// grants it to every clinician it knows — Omar included, since it has not
// heard of his removal. The laptop's change is the later one, so its
// grants win everywhere and every clinical.db ends under K2. Nothing ever
// changed the key again. Omar copies the laptop's data folder while it is
// apart (his old general key opens that general.db), reads his own grants
// column, opens the K2 grant with his old identity key, and reads every
// computer's clinical.db, charts written after he left included.
// Now: an admin who sees two keys made apart replaces both.
func TestAttackReview3RemovedClinicianGetsTheKeyMadeApart(t *testing.T) {
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
	oldKeys, _ := store.LoadKeyring(a.v.Dir)
	omar := unwrapInsider(t, oldKeys, "Dr Omar Haddad", docPass)

	// Apart: the desk removes Omar, then the laptop demotes Lee.
	if err := a.RemoveUser(ctx, "Dr Omar Haddad"); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Second)
	if err := bob.SetRole(ctx, "Dr Mei Lee", Receptionist); err != nil {
		t.Fatal(err)
	}
	omarsCopy := filepath.Join(t.TempDir(), "omars-copy")
	copyDir(t, b.v.Dir, omarsCopy)
	f.clk.Advance(time.Second)
	for i := 0; i < 4; i++ {
		a.Sync(ctx, dir)
		bob.Sync(ctx, dir)
		f.clk.Advance(time.Minute)
	}
	if _, err := a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "written long after Omar left"}); err != nil {
		t.Fatal(err)
	}
	a.Sync(ctx, dir)
	bob.Sync(ctx, dir)

	key := review3GrantFromGeneralDB(t, omarsCopy, omar, oldKeys.VaultID)
	if key == nil {
		t.Fatal("the laptop's copy holds no clinical grant for Omar: the attack is not set up")
	}
	for name, v := range map[string]*Vault{"desk": a.v, "laptop": b.v} {
		if review3Opens(v.Dir, omar.kClin) {
			t.Errorf("removed Dr Omar's old clinical key opens the %s's clinical.db", name)
		}
		if review3Opens(v.Dir, key) {
			t.Errorf("removed Dr Omar opens the %s's clinical.db, written after he left, with the grant the laptop made apart", name)
		}
	}
}

// TestReview3BackupAfterKeyChangesApartRestoresNoCharts: two admins change
// the clinical key apart (desk: K1; laptop: K2, the later, whose grants
// win). The desk's clinical.db is under K1 and only Rita, a receptionist,
// is signed in there when K2's grants arrive; she makes the nightly
// backup (clinical.db copied as the ciphertext it is). The desk itself
// copes through its local escrow, but the escrow was dropped from backups:
// restored with the recovery key, the backup's keyring grants K2, its
// clinical.db is under K1, the chain leads from K2 to K0 only. The admin
// cannot sign in to the restored vault, and no key anyone holds opens its
// charts.
func TestAttackReview3BackupAfterKeyChangesApartRestoresNoCharts(t *testing.T) {
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
	info, err := rita.CreateBackup(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	rita.Lock(ctx)

	restored := NewVault(filepath.Join(t.TempDir(), "restored"))
	restored.Now = f.clk.Now
	restored.UseMinimumKDF()
	if err := restored.RestoreBackupWithRecoveryKey(ctx, info.Path, f.recovery, nil); err != nil {
		t.Fatalf("restore: %v", err)
	}
	f.clk.Advance(totpPeriod * time.Second)
	s, err := restored.SignIn(ctx, "Maria Admin", adminPass, f.codeFor(f.secrets["Maria Admin"]))
	if err != nil {
		t.Fatalf("the admin cannot sign in to the restored backup (its clinical.db is under a key no grant or chain leads to): %v", err)
	}
	defer s.Lock(ctx)
	if c, err := s.OpenChart(ctx, p.MRN); err != nil || len(c.Encounters) != 1 {
		t.Fatalf("restored chart: %v %+v", err, c)
	}
}
