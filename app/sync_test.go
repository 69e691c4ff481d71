package app

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cvsync "github.com/clinicvault/clinicvault/sync"
)

// pair joins a new data folder to f's vault through the sync folder dir,
// with the admin session s approving.
func pair(t testing.TB, f *fixture, s *Session, dir, name string) *Vault {
	t.Helper()
	ctx := context.Background()
	inv, err := s.InviteDevice(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	nv := NewVault(filepath.Join(t.TempDir(), name))
	nv.Now = f.clk.Now
	nv.UseMinimumKDF()
	fpJoin := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- nv.Join(ctx, dir, strings.ToLower(inv.Code), name, func(fp string) { fpJoin <- fp }, 10*time.Millisecond)
	}()
	req, fp, err := inv.WaitForDevice(ctx, f.clk.Now, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if got := <-fpJoin; got != fp {
		t.Fatalf("fingerprints differ: %q vs %q", got, fp)
	}
	if err := s.ApproveDevice(ctx, inv, req); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("join: %v", err)
	}
	return nv
}

func signInOn(t testing.TB, f *fixture, v *Vault, name, pass string) *Session {
	t.Helper()
	f.clk.Advance(totpPeriod * time.Second)
	s, err := v.SignIn(context.Background(), name, pass, f.codeFor(f.secrets[name]))
	if err != nil {
		t.Fatalf("sign in %s on %s: %v", name, v.Dir, err)
	}
	t.Cleanup(func() { s.Lock(context.Background()) })
	return s
}

func mustSync(t *testing.T, s *Session, dir string) SyncReport {
	t.Helper()
	rep, err := s.Sync(context.Background(), dir)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if rep.Refused > 0 {
		t.Fatalf("sync refused: %+v", rep)
	}
	return rep
}

func TestPairAndSyncTwoMachines(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	a := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(a, "Rita Front", Receptionist, recPass)
	p, _, _ := a.AddPatient(ctx, Patient{Given: "José", Family: "Núñez", DOB: "1980-03-02", Phone: "555 0100"})
	if _, err := a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "clinical secret"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)

	bv := pair(t, f, a, dir, "laptop")
	mustSync(t, a, dir) // the roster change reaches the folder

	// Everyone signs in on the new machine with their own passphrase. The
	// clinical key reaches it with the admin's own grant, and the clinical
	// batches kept sealed since the join are applied at her first pass.
	b := signInOn(t, f, bv, "Maria Admin", adminPass)
	if rep := mustSync(t, b, dir); rep.Applied == 0 {
		t.Fatalf("the sealed clinical batches were not applied at the first clinician's pass: %+v", rep)
	}
	got, _ := b.SearchPatients(ctx, "nunez", 10)
	if len(got) != 1 || got[0].MRN != p.MRN {
		t.Fatalf("patient on B: %+v", got)
	}
	c, err := b.OpenChart(ctx, p.MRN)
	if err != nil || len(c.Encounters) != 1 {
		t.Fatalf("chart on B: %v %+v", err, c)
	}
	rita := signInOn(t, f, bv, "Rita Front", recPass)
	rita.Lock(ctx)

	// The folder holds no plaintext.
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if info != nil && !info.IsDir() {
			data, _ := os.ReadFile(p)
			for _, secret := range []string{"Núñez", "clinical secret", "Rita Front", "555 0100", "Riverside", "laptop"} {
				if strings.Contains(string(data), secret) {
					t.Errorf("%s holds %q in clear", p, secret)
				}
			}
		}
		return nil
	})

	// Both machines edit the same field while apart: they converge on the
	// later write, and the losing value stays in the history.
	if _, err := a.EditPatient(ctx, p.MRN, PatientChanges{Phone: Str("111 1111")}); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Second)
	if _, err := b.EditPatient(ctx, p.MRN, PatientChanges{Phone: Str("222 2222")}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	mustSync(t, a, dir)
	pa, _ := a.GetPatient(ctx, p.MRN)
	pb, _ := b.GetPatient(ctx, p.MRN)
	if pa.Phone != "222 2222" || pb.Phone != "222 2222" {
		t.Fatalf("did not converge: A %q B %q", pa.Phone, pb.Phone)
	}
	hist, _ := a.History(ctx, "patients", p.ID)
	var phones []string
	for _, h := range hist {
		if h.Column == "phone" {
			phones = append(phones, *h.Value+"@"+shortID(h.Device))
		}
	}
	if len(phones) != 3 {
		t.Fatalf("history of phone: %v", phones)
	}
	// Search on A reflects the synced value.
	if got, _ := a.SearchPatients(ctx, "2222", 10); len(got) != 1 {
		t.Fatalf("search index not updated by sync: %v", got)
	}

	// A user added on A can sign in on B after sync; a removed one cannot.
	f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	signInOn(t, f, bv, "Dr Omar Haddad", docPass)
	if err := a.RemoveUser(ctx, "Rita Front"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	f.clk.Advance(time.Minute)
	if _, err := bv.SignIn(ctx, "Rita Front", recPass, f.codeFor(f.secrets["Rita Front"])); !errors.Is(err, ErrSignInRefused) {
		t.Fatalf("removed user on B: %v", err)
	}

	// Syncing again changes nothing.
	rep := mustSync(t, b, dir)
	if rep.Sent != 0 && rep.Applied != 0 {
		t.Fatalf("idle sync did something: %+v", rep)
	}

	// Revoke B: A's later batches use a new epoch B cannot read, and B's
	// later batches are refused by A. (A reads what B sent first: a batch
	// still in the folder when its computer is revoked is refused too.)
	mustSync(t, a, dir)
	if err := a.RevokeDevice(ctx, dir, b.DeviceID()); err != nil {
		t.Fatal(err)
	}
	a.AddPatient(ctx, Patient{Given: "After", Family: "Revocation", DOB: "1990-01-01"})
	mustSync(t, a, dir)
	b.AddPatient(ctx, Patient{Given: "From", Family: "Revoked", DOB: "1990-01-01"})
	b.Sync(ctx, dir)
	rep, _ = a.Sync(ctx, dir)
	if rep.Refused == 0 {
		t.Fatalf("revoked device's batch accepted: %+v", rep)
	}
	if got, _ := a.SearchPatients(ctx, "revoked", 10); len(got) != 0 {
		t.Fatal("revoked device's patient applied")
	}
	if got, _ := b.SearchPatients(ctx, "revocation", 10); len(got) != 0 {
		t.Fatal("revoked device read a batch of the new epoch")
	}
	devs, _ := a.Devices(ctx)
	if len(devs) != 2 || devs[1].Revoked.IsZero() {
		t.Fatalf("devices: %+v", devs)
	}
	_ = cvsync.General
}

func TestSyncRefusesTamperingAndWaitsForClinicians(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	a := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(a, "Rita Front", Receptionist, recPass)
	mustSync(t, a, dir)
	bv := pair(t, f, a, dir, "frontdesk")
	mustSync(t, a, dir)

	// A clinical change made on A while only a receptionist uses B: kept
	// sealed on B, applied when an admin signs in there.
	p, _, _ := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	if err := a.AddAllergy(ctx, p.MRN, Allergy{Substance: "Penicillin"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	rita := signInOn(t, f, bv, "Rita Front", recPass)
	rep := mustSync(t, rita, dir)
	if rep.Sealed != 1 || rep.Applied < 1 {
		t.Fatalf("receptionist pass: %+v", rep)
	}
	rita.Lock(ctx)
	b := signInOn(t, f, bv, "Maria Admin", adminPass)
	mustSync(t, b, dir)
	c, err := b.OpenChart(ctx, p.MRN)
	if err != nil || len(c.Allergies) != 1 {
		t.Fatalf("sealed clinical batch not applied at clinician sign-in: %v %+v", err, c)
	}

	// A receptionist-signed clinical batch is refused.
	rita = signInOn(t, f, bv, "Rita Front", recPass)
	key, _ := b.syncKey(ctx, cvsync.Clinical, 0)
	v := "forged"
	h := cvsync.Header{VaultID: a.kr.VaultID, Class: cvsync.Clinical, Device: b.DeviceID(), Seq: 1, Signer: rita.user.ID}
	var last []byte
	var sent uint64
	b.general.QueryRow(`SELECT seq, hash FROM sync_sent ORDER BY seq DESC LIMIT 1`).Scan(&sent, &last)
	h.Seq = sent + 1
	copy(h.PrevHash[:], last)
	rsk, _ := rita.SigningKey()
	env, _, err := cvsync.Seal(h, []cvsync.Record{{HLC: b.clock.Now().String(), Table: "allergies", RowID: newID(), Columns: map[string]*string{"substance": &v}, Device: b.DeviceID(), Author: rita.user.ID}},
		key, rsk, ed25519.NewKeyFromSeed(b.devKeys.ed25519))
	if err != nil {
		t.Fatal(err)
	}
	if err := (cvsync.Folder{Dir: dir}).Put(b.DeviceID(), h.Seq, env); err != nil {
		t.Fatal(err)
	}
	rep, _ = a.Sync(ctx, dir)
	if rep.Refused != 1 || !strings.Contains(rep.ProblemText(), "signed by a receptionist") {
		t.Fatalf("receptionist clinical batch: %+v", rep)
	}
}

func TestSyncRefusesReplaysGapsForeignAndFutureBatches(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	folder := cvsync.Folder{Dir: dir}

	// B writes three batches; the second one goes missing: A applies the
	// first, reports the gap, and applies nothing after it.
	// (Searched by a family name an MRN cannot match: a one-letter search
	// also matched the first patient's MRN one run in 32.)
	for _, family := range []string{"Alpha", "Bravo", "Charlie"} {
		b.AddPatient(ctx, Patient{Given: "P", Family: family, DOB: "1990-01-01"})
		mustSync(t, b, dir)
	}
	seqs, _ := folder.Seqs(b.DeviceID(), 0)
	missing := seqs[len(seqs)-2]
	moved := filepath.Join(t.TempDir(), "held")
	os.Rename(filepath.Join(dir, "devices", b.DeviceID(), fmt.Sprintf("%012d", missing)), moved)
	rep, _ := a.Sync(ctx, dir)
	if !strings.Contains(rep.ProblemText(), "missing") {
		t.Fatalf("gap not reported: %+v", rep)
	}
	if got, _ := a.SearchPatients(ctx, "alpha", 10); len(got) != 1 {
		t.Fatal("the batch before the gap was not applied")
	}
	if got, _ := a.SearchPatients(ctx, "charlie", 10); len(got) != 0 {
		t.Fatal("a batch after the gap was applied")
	}
	os.Rename(moved, filepath.Join(dir, "devices", b.DeviceID(), fmt.Sprintf("%012d", missing)))
	mustSync(t, a, dir)
	if got, _ := a.SearchPatients(ctx, "charlie", 10); len(got) != 1 {
		t.Fatal("catch-up after the gap filled failed")
	}

	// Replay: an old batch copied in as the next number is refused.
	old, _ := folder.Get(b.DeviceID(), seqs[0])
	folder.Put(b.DeviceID(), seqs[len(seqs)-1]+1, old)
	rep, _ = a.Sync(ctx, dir)
	if rep.Refused != 1 {
		t.Fatalf("replay: %+v", rep)
	}

	// Another vault's batch dropped into the folder is refused.
	g := newFixture(t)
	other := g.mustSignIn("Maria Admin", adminPass)
	odir := t.TempDir()
	other.AddPatient(ctx, Patient{Given: "X", Family: "Other", DOB: "1990-01-01"})
	mustSync(t, other, odir)
	oenv, _ := cvsync.Folder{Dir: odir}.Get(other.DeviceID(), 1)
	folder.Put(other.DeviceID(), 1, oenv)
	rep, _ = a.Sync(ctx, dir)
	if !strings.Contains(rep.ProblemText(), "another practice") {
		t.Fatalf("foreign batch: %+v", rep)
	}

	// A device whose clock runs 10 minutes ahead: held, named, clock untouched.
	c := pair(t, f, a, dir, "fastclock")
	mustSync(t, a, dir)
	cs := signInOn(t, f, c, "Maria Admin", adminPass)
	mustSync(t, cs, dir)
	cs.clock = cvsync.NewClock(cs.DeviceID(), func() time.Time { return f.clk.Now().Add(10 * time.Minute) }, cvsync.Timestamp{})
	cs.AddPatient(ctx, Patient{Given: "Future", Family: "Clock", DOB: "1990-01-01"})
	mustSync(t, cs, dir)
	before := a.clock.Now()
	rep, _ = a.Sync(ctx, dir)
	if !strings.Contains(rep.ProblemText(), "ahead") || !strings.Contains(rep.ProblemText(), shortID(cs.DeviceID())) {
		t.Fatalf("clock ahead: %+v", rep)
	}
	// Typed, for the window: whose log, which batch, how far ahead; and
	// kept as that computer's problem in the device list.
	var ahead SyncProblem
	for _, p := range rep.Problems {
		if p.Kind == ProblemClockAhead {
			ahead = p
		}
	}
	if ahead.Device != cs.DeviceID() || ahead.Seq == 0 || ahead.Wait < 9*time.Minute || ahead.Wait > 11*time.Minute || ahead.Halted {
		t.Fatalf("clock ahead, typed: %+v", ahead)
	}
	devs, err := a.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		if d.ID == cs.DeviceID() && d.Problem != ahead {
			t.Fatalf("the device list keeps %+v, the pass said %+v", d.Problem, ahead)
		}
	}
	if got, _ := a.SearchPatients(ctx, "clock", 10); len(got) != 0 {
		t.Fatal("a batch from the future was applied")
	}
	if after := a.clock.Now(); after.Wall-before.Wall > 60_000 {
		t.Fatal("the local clock jumped to the future batch")
	}
}

func TestSecurityReportNamesQuietAndRevokedComputers(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	a := f.mustSignIn("Maria Admin", adminPass)
	mustSync(t, a, dir)
	bv := pair(t, f, a, dir, "laptop")
	mustSync(t, a, dir)
	b := signInOn(t, f, bv, "Maria Admin", adminPass)
	b.AddPatient(ctx, Patient{Given: "A", Family: "B", DOB: "1990-01-01"})
	mustSync(t, b, dir)
	mustSync(t, a, dir)
	f.clk.Advance(15 * 24 * time.Hour)
	items, _ := a.SecurityReport(ctx)
	got := map[string]CheckItem{}
	for _, i := range items {
		got[i.ID] = i
	}
	if got["devices-quiet"].Status != "attention" || got["devices-quiet"].Detail != "laptop" {
		t.Fatalf("quiet: %+v", got["devices-quiet"])
	}
	a.RevokeDevice(ctx, dir, b.DeviceID())
	items, _ = a.SecurityReport(ctx)
	for _, i := range items {
		if i.ID == "devices-revoked" && i.Detail != "laptop" {
			t.Fatalf("revoked: %+v", i)
		}
		if i.ID == "devices-quiet" && i.Status != "ok" {
			t.Fatalf("a revoked computer still counts as quiet: %+v", i)
		}
	}
}

func TestUnreachableFolderQueuesAndCatchesUp(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "usb-stick")
	os.MkdirAll(dir, 0o700)
	a := f.mustSignIn("Maria Admin", adminPass)
	mustSync(t, a, dir)
	bv := pair(t, f, a, dir, "laptop")
	mustSync(t, a, dir)
	// The stick is unplugged: work goes on, sync says why it cannot run.
	os.Rename(dir, dir+".away")
	p, _, err := a.AddPatient(ctx, Patient{Given: "Offline", Family: "Work", DOB: "1990-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sync(ctx, dir); !errors.Is(err, cvsync.ErrUnreachable) {
		t.Fatalf("unplugged folder: %v", err)
	}
	// Plugged back in: the queued change goes out and arrives.
	os.Rename(dir+".away", dir)
	mustSync(t, a, dir)
	b := signInOn(t, f, bv, "Maria Admin", adminPass)
	mustSync(t, b, dir)
	if got, _ := b.SearchPatients(ctx, "offline work", 5); len(got) != 1 || got[0].MRN != p.MRN {
		t.Fatalf("queued change did not arrive: %+v", got)
	}
}

// twoMachines is the practice's first computer A and a laptop B paired to
// it through a temp folder, both signed in as the admin and in step.
func twoMachines(t *testing.T) (f *fixture, dir string, a, b *Session) {
	t.Helper()
	f = newFixture(t)
	dir = t.TempDir()
	a = f.mustSignIn("Maria Admin", adminPass)
	mustSync(t, a, dir)
	bv := pair(t, f, a, dir, "laptop")
	mustSync(t, a, dir)
	b = signInOn(t, f, bv, "Maria Admin", adminPass)
	mustSync(t, b, dir)
	return f, dir, a, b
}

// TestSyncWaitsForABatchOfANewerVersion: a batch written by a newer
// ClinicVault is not refused (which would skip it for good) but waited
// for; once this computer can read it, it applies and sync goes on.
func TestSyncWaitsForABatchOfANewerVersion(t *testing.T) {
	_, dir, a, b := twoMachines(t)
	ctx := context.Background()

	p, _, err := a.AddPatient(ctx, Patient{Given: "Nia", Family: "Future", DOB: "1990-05-05"})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	last, _ := b.lastReceived(ctx, a.DeviceID())
	folder := cvsync.Folder{Dir: dir}
	seqs, err := folder.Seqs(a.DeviceID(), last)
	if err != nil || len(seqs) == 0 {
		t.Fatalf("no new batch of A: %v %v", seqs, err)
	}
	path := filepath.Join(dir, "devices", a.DeviceID(), fmt.Sprintf("%012d", seqs[0]))
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	future := append([]byte{}, orig...)
	future[4] = 99 // the format version byte
	if err := os.WriteFile(path, future, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := b.Sync(ctx, dir)
	if err != nil || rep.Refused != 0 || rep.Applied != 0 || !strings.Contains(rep.ProblemText(), "newer version of ClinicVault") {
		t.Fatalf("newer batch: %+v %v", rep, err)
	}
	if now, _ := b.lastReceived(ctx, a.DeviceID()); now != last {
		t.Fatalf("the newer batch was recorded as received (%d → %d)", last, now)
	}
	// "Updated": the batch reads now, and applies.
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	rep = mustSync(t, b, dir)
	if rep.Applied == 0 {
		t.Fatalf("after the update: %+v", rep)
	}
	if got, err := b.GetPatient(ctx, p.MRN); err != nil || got.Family != "Future" {
		t.Fatalf("patient after catching up: %+v %v", got, err)
	}
}

// TestSyncNeeded: the watcher's look at the folder says whether a pass
// has work — a local change to send, a peer's batch to receive — and says
// yes when the folder cannot be reached, so the pass reports it.
func TestSyncNeeded(t *testing.T) {
	_, dir, a, b := twoMachines(t)
	ctx := context.Background()
	// Each computer's audit head travels with its batches: a pass or two
	// more and the heads are in step too.
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	mustSync(t, a, dir)
	if a.SyncNeeded(ctx, dir) || b.SyncNeeded(ctx, dir) {
		t.Fatal("a pass is said to be needed with both machines in step")
	}
	if _, _, err := a.AddPatient(ctx, Patient{Given: "Ola", Family: "Nordmann", DOB: "1984-04-04"}); err != nil {
		t.Fatal(err)
	}
	if !a.SyncNeeded(ctx, dir) {
		t.Fatal("a local change to send is not seen")
	}
	if b.SyncNeeded(ctx, dir) {
		t.Fatal("B sees work before A has written anything")
	}
	mustSync(t, a, dir)
	if a.SyncNeeded(ctx, dir) {
		t.Fatal("A still has work after its pass")
	}
	if !b.SyncNeeded(ctx, dir) {
		t.Fatal("A's new batch is not seen from B")
	}
	mustSync(t, b, dir)
	if b.SyncNeeded(ctx, dir) {
		t.Fatal("B still has work after its pass")
	}
	if !b.SyncNeeded(ctx, filepath.Join(dir, "unplugged")) {
		t.Fatal("an unreachable folder must lead to a pass that reports it")
	}
	b.Lock(ctx)
	if b.SyncNeeded(ctx, dir) {
		t.Fatal("a locked session has no pass to make")
	}
}
