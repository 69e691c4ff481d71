package app

// Second review: attacks on key epochs (app/epochs.go), from the
// attacker's side, with raw keys and hand-written folder files.

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// review2Seal writes an epoch file for user (slot) on device, holding keys
// k, signed by the admin whose signing seed is given.
func review2Seal(t *testing.T, dir string, epoch uint32, slot *store.Slot, device, devPubHex string, k cvsync.UserEpochKeys, adminID string, adminSeed []byte, made int64) {
	t.Helper()
	body, _ := json.Marshal(k)
	inner, err := cvsync.SealTo(slot.PublicKey, store.LabelEpochUser, body)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(devPubHex)
	if err != nil {
		t.Fatal(err)
	}
	box, err := cvsync.SealTo(raw, store.LabelEpochUserOnDevice, inner)
	if err != nil {
		t.Fatal(err)
	}
	ef := cvsync.EpochFile{Epoch: epoch, User: slot.UserID, Device: device, Made: made, Box: box, Admin: adminID}
	ef.Signature = ed25519.Sign(ed25519.NewKeyFromSeed(adminSeed), cvsync.EpochSigned(ef))
	js, _ := json.Marshal(ef)
	if err := (cvsync.Folder{Dir: dir}).WriteOnce(fmt.Sprintf("epochs/%d/%s", epoch, cvsync.UserEpochName(slot.UserID, device)), js); err != nil {
		t.Fatal(err)
	}
}

func review2DevPub(t *testing.T, s *Session, device string) string {
	t.Helper()
	var pub string
	if err := s.general.QueryRow(`SELECT x25519_pub FROM devices WHERE id = ?`, device).Scan(&pub); err != nil {
		t.Fatal(err)
	}
	return pub
}

// review2Opens reports whether device's newest batch in the folder
// decrypts under key (a signature lookup failure after decryption still
// means it opened).
func review2Opens(t *testing.T, s *Session, dir, device string, key []byte) (bool, uint32) {
	t.Helper()
	seq, _ := lastInFolder(t, dir, device)
	env, err := os.ReadFile(batchPath(dir, device, seq))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := cvsync.ParseHeader(env)
	_, err = cvsync.Open(env, key, s.signerKey(context.Background()))
	return err == nil || !strings.Contains(err.Error(), "authenticate"), h.Epoch
}

// TestAttackReview2RemovedAdminsEpochTakenByAnOfflineLaptop: Bob, an admin, is
// removed at the desk while the laptop is away. Before the laptop's next
// pass he writes an epoch of keys he chose, numbered far above anything
// (count 0x7fff), sealed to Maria on the laptop and signed with his own
// key. The laptop's pass installs epochs before it pulls the roster, so it
// still sees Bob as an active admin and takes the epoch; from then on it
// seals everything under Bob's keys, for good (learning of the removal
// afterwards changes nothing: currentEpoch is max(sync_keys)).
func TestAttackReview2RemovedAdminsEpochTakenByAnOfflineLaptop(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	const bobPass = "marble orchestra lantern velvet"
	f.addUser(a, "Bob Admin", Admin, bobPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	oldKeys, _ := store.LoadKeyring(a.v.Dir)
	bob := unwrapInsider(t, oldKeys, "Bob Admin", bobPass)
	maria, _ := oldKeys.SlotByName("Maria Admin")

	f.clk.Advance(time.Hour)
	if err := a.RemoveUser(ctx, "Bob Admin"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	genuine := a.currentEpoch(ctx)

	// Bob, with his old slot and the folder.
	mine := store.NewKey()
	forged := uint32(0x7fff)<<16 | 0x1234
	review2Seal(t, dir, forged, maria, b.DeviceID(), review2DevPub(t, a, b.DeviceID()),
		cvsync.UserEpochKeys{General: mine, Clinical: mine}, bob.slot.UserID, bob.secrets.SigningSeed, f.clk.Now().Add(-2*time.Hour).UnixMilli())

	b.Sync(ctx, dir)
	f.clk.Advance(time.Minute)
	if _, _, err := b.AddPatient(ctx, Patient{Given: "Written", Family: "AfterRemoval", DOB: "1990-01-01"}); err != nil {
		t.Fatal(err)
	}
	b.Sync(ctx, dir)
	b.Sync(ctx, dir)
	if opens, e := review2Opens(t, b, dir, b.DeviceID(), mine); opens || b.currentEpoch(ctx) == forged {
		t.Fatalf("the laptop took the removed admin's epoch %#x (genuine current %#x): its batch written after the removal is sealed under epoch %#x and opens with Bob's key: %v", forged, genuine, e, opens)
	}
}

// TestAttackReview2PlantedEpochOutlivesTheRemoval: Bob, while still an admin,
// writes an epoch of keys he chose with the highest count (0xffff), sealed
// to Maria on both computers; both take it (he is an admin). Then he is
// removed. The removal's rotation numbers its epoch nextEpoch(0xffffxxxx),
// whose count wraps to 0: the new epoch is smaller than Bob's, Bob's stays
// the current one, and everything written after his removal opens with
// his keys. (Without the wrap: an epoch Bob seals to everyone but the
// remover's computer makes the other computers send under it.)
func TestAttackReview2PlantedEpochOutlivesTheRemoval(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	const bobPass = "marble orchestra lantern velvet"
	f.addUser(a, "Bob Admin", Admin, bobPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	kr, _ := store.LoadKeyring(a.v.Dir)
	bob := unwrapInsider(t, kr, "Bob Admin", bobPass)
	maria, _ := kr.SlotByName("Maria Admin")

	mine := store.NewKey()
	planted := uint32(0xffff)<<16 | 0x0001
	for _, d := range []string{a.DeviceID(), b.DeviceID()} {
		review2Seal(t, dir, planted, maria, d, review2DevPub(t, a, d),
			cvsync.UserEpochKeys{General: mine, Clinical: mine}, bob.slot.UserID, bob.secrets.SigningSeed, f.clk.Now().UnixMilli())
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)

	f.clk.Advance(time.Hour)
	if err := a.RemoveUser(ctx, "Bob Admin"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	f.clk.Advance(time.Minute)
	if _, _, err := a.AddPatient(ctx, Patient{Given: "Written", Family: "AfterRemoval", DOB: "1990-01-01"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	if opens, e := review2Opens(t, a, dir, a.DeviceID(), mine); opens || a.currentEpoch(ctx) == planted {
		var made []uint32
		rows, _ := a.general.Query(`SELECT epoch FROM sync_keys ORDER BY epoch`)
		for rows.Next() {
			var e uint32
			rows.Scan(&e)
			made = append(made, e)
		}
		rows.Close()
		t.Fatalf("after Bob's removal the desk still sends under Bob's planted epoch %#x (batch epoch %#x, opens with his key: %v); epochs held: %#x", planted, e, opens, made)
	}
}

// TestAttackReview2FileNameMakesTheAdminRotateForever: rotateIfDepartedIncluded
// trusts file names, not signed files. Anyone who can write to the folder
// (no key at all) creates empty files epochs/<c<<16>/u-<removed user>@x
// for the next counts c; each admin pass then starts a new epoch (sealed
// to every person on every computer), one per pass, without end; the
// watcher runs a pass whenever something changes, and after 65535 counts
// nextEpoch wraps (see TestAttackReview2PlantedEpochOutlivesTheRemoval).
func TestAttackReview2FileNameMakesTheAdminRotateForever(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	kr, _ := store.LoadKeyring(a.v.Dir)
	rita, _ := kr.SlotByName("Rita Front")
	if err := a.RemoveUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	mustSync(t, a, dir)
	before := a.currentEpoch(ctx)

	for c := before >> 16; c < before>>16+50; c++ {
		p := filepath.Join(dir, "epochs", fmt.Sprint(c<<16))
		os.MkdirAll(p, 0o700)
		os.WriteFile(filepath.Join(p, "u-"+rita.UserID+"@x"), nil, 0o600)
	}
	for i := 0; i < 5; i++ {
		if _, err := a.Sync(ctx, dir); err != nil {
			t.Fatal(err)
		}
	}
	if after := a.currentEpoch(ctx); after>>16 != before>>16 {
		var files int
		filepath.Walk(filepath.Join(dir, "epochs"), func(_ string, fi os.FileInfo, _ error) error {
			if fi != nil && !fi.IsDir() {
				files++
			}
			return nil
		})
		t.Fatalf("five idle admin passes after empty files were named for a removed user started %d new epochs (count %d -> %d, %d epoch files in the folder)", after>>16-before>>16, before>>16, after>>16, files)
	}
}

// TestAttackReview2DemotedClinicianHoldsTheCurrentClinicalKey: Maria on the
// desk demotes Carl (clinician) to receptionist: a new epoch whose
// clinical key only the remaining clinicians get. Meanwhile Maria's
// laptop, offline, removes two receptionists (two departures, two
// epochs: its count is one higher). The laptop did not know of the
// demotion, so its epochs carry the clinical key for Carl. Once both sync,
// the laptop's epoch is the current one everywhere, and nothing starts a
// new one (rotateIfDepartedIncluded looks only for removed users, not for
// demotions): Carl opens the current clinical key with his own identity
// key and the desk's device key, and reads every clinical batch since.
func TestAttackReview2DemotedClinicianHoldsTheCurrentClinicalKey(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Carl Clin", Clinician, docPass)
	f.addUser(a, "Rita Front", Receptionist, recPass)
	f.addUser(a, "Rhea Front", Receptionist, recPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	mustSync(t, a, dir)
	kr, _ := store.LoadKeyring(a.v.Dir)
	carl := unwrapInsider(t, kr, "Carl Clin", docPass)

	// Apart.
	if err := a.SetRole(ctx, "Carl Clin", Receptionist); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveUser(ctx, "Rhea Front"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		a.Sync(ctx, dir)
		b.Sync(ctx, dir)
	}
	p, _, err := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Later", DOB: "1980-01-02"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.AddAllergy(ctx, p.MRN, Allergy{Substance: "Penicillin, after the demotion"}); err != nil {
		t.Fatal(err)
	}
	a.Sync(ctx, dir)
	cur := a.currentEpoch(ctx)
	if cur != b.currentEpoch(ctx) {
		t.Logf("desk on %#x, laptop on %#x", cur, b.currentEpoch(ctx))
	}

	// Carl: his identity key (unchanged by the demotion) and the desk's
	// device key (a copy of its general.db).
	names, _ := cvsync.Folder{Dir: dir}.List(fmt.Sprintf("epochs/%d", cur))
	for _, n := range names {
		if !strings.HasPrefix(n, "u-"+carl.slot.UserID+"@") {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(dir, "epochs", fmt.Sprint(cur), n))
		var ef cvsync.EpochFile
		json.Unmarshal(data, &ef)
		inner, err := cvsync.OpenFrom(a.devKeys.x25519, store.LabelEpochUserOnDevice, ef.Box)
		if err != nil {
			continue
		}
		body, err := cvsync.OpenFrom(carl.secrets.Identity, store.LabelEpochUser, inner)
		if err != nil {
			continue
		}
		var k cvsync.UserEpochKeys
		json.Unmarshal(body, &k)
		if len(k.Clinical) > 0 {
			seq, _ := clinicalBatchOf(t, dir, a.DeviceID())
			env, _ := os.ReadFile(batchPath(dir, a.DeviceID(), seq))
			_, oerr := cvsync.Open(env, k.Clinical, a.signerKey(ctx))
			t.Fatalf("Carl, demoted to receptionist, opens the clinical key of the current epoch %#x from %s (the desk's newest clinical batch %d opens with it: %v)", cur, n, seq, oerr == nil)
		}
	}
}

// TestAttackReview2DepartedDeletesTheLaptopsEpochFile: Rita, a receptionist,
// is removed; she keeps her old slot and write access to the shared
// folder. Before the laptop's next pass she deletes the laptop's file of
// the new epoch (epochs/<n>/u-<Maria>@<laptop>). Nothing ever writes it
// again (the outbox row is gone; grantEpochs runs only for new staff and
// promotions), so the laptop stays on epoch 0 for good, and receivers
// still apply batches sealed under a retired epoch: everything the laptop
// writes from then on is sealed under the general sync key of epoch 0,
// which Rita derives from her old general key.
func TestAttackReview2DepartedDeletesTheLaptopsEpochFile(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	kr, _ := store.LoadKeyring(a.v.Dir)
	rita := unwrapInsider(t, kr, "Rita Front", recPass)
	maria, _ := kr.SlotByName("Maria Admin")

	if err := a.RemoveUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	n := a.currentEpoch(ctx)

	// Rita, in the folder.
	names, _ := cvsync.Folder{Dir: dir}.List(fmt.Sprintf("epochs/%d", n))
	deleted := 0
	for _, name := range names {
		if strings.HasPrefix(name, cvsync.UserEpochName(maria.UserID, b.DeviceID())) {
			if err := os.Remove(filepath.Join(dir, "epochs", fmt.Sprint(n), name)); err != nil {
				t.Fatal(err)
			}
			deleted++
		}
	}
	if deleted == 0 {
		t.Fatal("no file of the laptop's to delete")
	}

	for i := 0; i < 3; i++ {
		b.Sync(ctx, dir)
		a.Sync(ctx, dir)
	}
	f.clk.Advance(time.Hour)
	if _, _, err := b.AddPatient(ctx, Patient{Given: "Written", Family: "LongAfter", DOB: "1990-01-01"}); err != nil {
		t.Fatal(err)
	}
	b.Sync(ctx, dir)
	rep, _ := a.Sync(ctx, dir)
	key0, _ := store.DeriveKey(rita.kGen, []byte(kr.VaultID), store.LabelSyncKey+"/general/0", 32)
	if opens, e := review2Opens(t, b, dir, b.DeviceID(), key0); opens {
		got, _ := a.SearchPatients(ctx, "longafter", 5)
		t.Fatalf("an hour after Rita's removal the laptop still seals under epoch %d (current %#x), which she opens; the desk applied it anyway (%d found, %+v)", e, n, len(got), rep)
	}
}

// TestAttackReview2ConcurrentEpochReachesARevokedComputer: Maria on the desk
// revokes the old front-desk PC; meanwhile her laptop, offline, removes
// two receptionists (two epochs, a count higher than the revocation's).
// The laptop's epochs are sealed to everyone on the revoked PC too, become
// the current ones everywhere, and nothing starts another one
// (rotateIfDepartedIncluded does not look at revoked computers): whoever
// signs in on the revoked PC installs the current keys.
func TestAttackReview2ConcurrentEpochReachesARevokedComputer(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	rv := pair(t, f, a, dir, "oldpc")
	mustSync(t, a, dir)
	r := signInOn(t, f, rv, "Maria Admin", adminPass)
	mustSync(t, r, dir)
	f.addUser(a, "Rita Front", Receptionist, recPass)
	f.addUser(a, "Rhea Front", Receptionist, recPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	mustSync(t, r, dir)
	mustSync(t, a, dir)

	// Apart.
	if err := a.RevokeDevice(ctx, dir, r.DeviceID()); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	if err := b.RemoveUser(ctx, "Rhea Front"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		a.Sync(ctx, dir)
		b.Sync(ctx, dir)
	}
	r.Sync(ctx, dir)
	cur := a.currentEpoch(ctx)
	if cur != 0 && hasSyncKey(ctx, r.general, cur) {
		t.Fatalf("the revoked computer installed the practice's current epoch %#x (desk and laptop on %#x/%#x)", r.currentEpoch(ctx), cur, b.currentEpoch(ctx))
	}
}

// TestAttackReview2SquattedEpochNamesDropTheGenuineFile: no delete right needed.
// Epoch numbers of the next count are only 65536 (count<<16 | 16 random
// bits) and file names are predictable (u-<user>@<device>), so someone
// who can only add files to the folder creates, ahead of the removal,
// epochs/<(c+1)<<16|r>/u-<Maria>@<laptop> for every r. flushEpochOutbox
// treats "already there" as written (ErrExists), deletes the outbox row
// and never looks at what is there: the laptop's genuine file is never
// written, and the laptop stays on the old epoch (see
// TestAttackReview2DepartedDeletesTheLaptopsEpochFile for what that gives).
func TestAttackReview2SquattedEpochNamesDropTheGenuineFile(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	kr, _ := store.LoadKeyring(a.v.Dir)
	maria, _ := kr.SlotByName("Maria Admin")

	next := a.currentEpoch(ctx)>>16 + 1
	name := cvsync.UserEpochName(maria.UserID, b.DeviceID())
	for r := uint32(0); r < 1<<16; r++ {
		p := filepath.Join(dir, "epochs", fmt.Sprint(next<<16|r))
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, name), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.RemoveUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	a.Sync(ctx, dir)
	n := a.currentEpoch(ctx)
	var left int
	a.general.QueryRow(`SELECT count(*) FROM epoch_files WHERE n > (SELECT coalesce(max(epoch_files), 0) FROM sync_places)`).Scan(&left)
	names, _ := cvsync.Folder{Dir: dir}.List(fmt.Sprintf("epochs/%d", n))
	genuine := false
	for _, fn := range names {
		if !strings.HasPrefix(fn, name) {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(dir, "epochs", fmt.Sprint(n), fn))
		var ef cvsync.EpochFile
		if json.Unmarshal(data, &ef) == nil && ef.Epoch == n && len(ef.Box) > 0 {
			genuine = true
		}
	}
	if !genuine {
		t.Fatalf("the laptop has no genuine file of the new epoch %#x; the squatter's took its place (outbox rows left: %d)", n, left)
	}
}
