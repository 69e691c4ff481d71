package app

import (
	"context"
	"crypto/ed25519"
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

// Insider attacks on database keys and their changes: departures,
// demotions, old slots and old copies, and key changes made apart.

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
