package devices

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/kit/kittest"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// sharedFolder makes the sync folder.
func sharedFolder(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// rowButton finds the button labelled text in the devices table row of
// the computer called name.
func rowButton(t *testing.T, ds *devicesScreen, name, text string) *widget.Button {
	t.Helper()
	for i, d := range ds.devs {
		if d.Name != name {
			continue
		}
		// Rows and separators alternate.
		row := ds.table.rows.Objects[2*i].(*fyne.Container)
		var found *widget.Button
		kittest.Walk(row, func(o fyne.CanvasObject) bool {
			if b, ok := o.(*widget.Button); ok && b.Text == text {
				found = b
				return true
			}
			return false
		})
		if found == nil {
			t.Fatalf("no %q button in the row of %q", text, name)
		}
		return found
	}
	t.Fatalf("no computer %q in the list", name)
	return nil
}

// device returns the computer called name as the screen last loaded it.
func device(t *testing.T, devs []app.Device, name string) app.Device {
	t.Helper()
	for _, d := range devs {
		if d.Name == name {
			return d
		}
	}
	t.Fatalf("no computer %q in %+v", name, devs)
	return app.Device{}
}

// TestDevicesScreenGolden keeps the Computers screen as a golden image
// (kittest.Golden). This computer is renamed first: it is named after the
// host.
func TestDevicesScreenGolden(t *testing.T) {
	ctx := context.Background()
	f := newPractice(t)
	a := newApp(t)
	s := f.signIn(f.a, adminName, adminPass)
	if err := s.RenameDevice(ctx, s.DeviceID(), "Front desk"); err != nil {
		t.Fatal(err)
	}
	w := newWindow(t, a, "ClinicVault")
	ds := newDevicesScreen(w, s)
	show(w, s, "Computers", ds.view)
	kittest.Settle(t)
	mustShow(t, w, "Front desk (this computer)")
	kittest.Golden(t, w, "devices")
}

// TestPairSyncAndRevokeThroughTheScreens pairs a second computer through
// the Devices screen on A and the Join screen on B at the same time, syncs
// a patient from A to B with "Sync now", revokes B, and unplugs the
// folder.
func TestPairSyncAndRevokeThroughTheScreens(t *testing.T) {
	ctx := context.Background()
	f := newPractice(t)
	a := newApp(t)
	shared := sharedFolder(t)
	sa := f.signIn(f.a, adminName, adminPass)

	// A: no folder yet; choose it on the Sync screen.
	winA := newWindow(t, a, "ClinicVault — front desk")
	syncA := newSyncScreen(winA, sa)
	show(winA, sa, "Sync", syncA.view)
	kittest.Settle(t)
	mustShow(t, winA, "not chosen yet")
	if !syncA.syncNow.Disabled() {
		t.Fatal("Sync now is enabled with no folder")
	}
	kittest.Shot(t, winA, "sync-no-folder")
	fakeFolder = shared
	kittest.Tap(t, winA, "Choose…")
	kittest.Settle(t)
	if got := sa.SyncFolder(ctx); got != shared {
		t.Fatalf("sync folder %q, want %q", got, shared)
	}
	mustShow(t, winA, "Last sync at")

	// A: the Devices screen lists this computer only.
	devA := newDevicesScreen(winA, sa)
	show(winA, sa, "Computers", devA.view)
	kittest.Settle(t)
	if len(devA.devs) != 1 || !devA.devs[0].This {
		t.Fatalf("devices on A: %+v", devA.devs)
	}
	mustShow(t, winA, "(this computer)")
	kittest.Shot(t, winA, "devices-admin")

	// B: an empty data folder shows the Join screen in a second window.
	b := newMachine(t, "b", f.clk)
	winB := newWindow(t, a, "ClinicVault — laptop")
	joined, back := false, false
	join := newJoinScreen(winB, b.v, func() { joined = true }, func() { back = true })
	winB.SetContent(join.view)
	if join.name.Text == "" {
		t.Fatal("the computer's name does not default to the host name")
	}
	kittest.Shot(t, winB, "join-form")

	// A: Add a device… shows the code.
	kittest.Tap(t, winA, "Add a device…")
	add := devA.adding
	if add == nil || add.step != "code" {
		t.Fatal("no Add a device dialog")
	}
	mustShow(t, winA, add.inv.Code)
	mustShow(t, winA, "Join a practice")
	kittest.Shot(t, winA, "devices-add-code")

	// B: fill in the form and join, while A waits.
	kittest.Tap(t, winB, "Choose…")
	if join.folder.Text != shared {
		t.Fatalf("folder field %q", join.folder.Text)
	}
	kittest.Retype(winB, join.code, strings.ToLower(add.inv.Code))
	kittest.Retype(winB, join.name, "Laptop")
	kittest.Tap(t, winB, "Join")
	kittest.WaitFor(t, "both fingerprints", func() bool { return add.step == "fingerprint" && join.fpBox.Visible() })
	if add.fp == "" || add.fp != join.fp.label.Text {
		t.Fatalf("fingerprints differ: A shows %q, B shows %q", add.fp, join.fp.label.Text)
	}
	mustShow(t, winA, "Does the new computer show exactly this number?")
	mustShow(t, winA, add.fp)
	mustShow(t, winB, "Check that the admin's screen shows the same number")
	if !join.join.Disabled() || !join.code.Disabled() || join.form.Visible() {
		t.Fatal("the form stays editable while joining")
	}
	mustShow(t, winB, "This computer's name: Laptop")
	kittest.Shot(t, winA, "devices-add-fingerprint")
	kittest.Shot(t, winB, "join-fingerprint")

	// A approves; B's join finishes.
	kittest.Tap(t, winA, "Approve")
	kittest.WaitFor(t, "B to join", func() bool { return joined })
	if add.step != "done" {
		t.Fatalf("A's dialog is at %q", add.step)
	}
	mustShow(t, winA, "“Laptop” is now one of the practice's computers.")
	mustShow(t, winB, "This computer has joined Practice.")
	if back {
		t.Fatal("onBack was called")
	}
	kittest.Shot(t, winA, "devices-add-done")
	kittest.Shot(t, winB, "join-done")
	kittest.Tap(t, winB, "OK")
	if kittest.FindButton(winB, "Join") != nil {
		t.Fatal("Join is offered again after joining")
	}
	if !app.NewVault(b.v.Dir).Exists() {
		t.Fatal("no vault on B after joining")
	}
	kittest.Tap(t, winA, "Close")
	if len(devA.devs) != 2 {
		t.Fatalf("devices on A after pairing: %+v", devA.devs)
	}

	// An admin signs in on B.
	sb := f.signIn(b, adminName, adminPass)
	if sb.Practice() != practice {
		t.Fatalf("B's practice is %q", sb.Practice())
	}

	// A patient added on A reaches B with Sync now on both.
	if _, _, err := sa.AddPatient(ctx, app.Patient{Given: "Ana", Family: "Silva", DOB: "1980-01-01"}); err != nil {
		t.Fatal(err)
	}
	syncA = newSyncScreen(winA, sa)
	show(winA, sa, "Sync", syncA.view)
	kittest.Settle(t)
	kittest.Tap(t, winA, "Sync now")
	mustShow(t, winA, "Sent 1.")
	syncB := newSyncScreen(winB, sb)
	show(winB, sb, "Sync", syncB.view)
	kittest.Settle(t)
	if syncB.dir != shared {
		// app's Join does not remember the folder it joined through:
		// B's user chooses it once, which syncs at once.
		kittest.Tap(t, winB, "Choose…")
	} else {
		kittest.Tap(t, winB, "Sync now")
	}
	if syncB.last == nil || syncB.last.err != nil || syncB.last.rep.Applied == 0 {
		t.Fatalf("B's pass: %+v", syncB.last)
	}
	got, err := sb.SearchPatients(ctx, "Silva", 10)
	if err != nil || len(got) != 1 || got[0].Given != "Ana" {
		t.Fatalf("Ana Silva on B: %v %+v", err, got)
	}
	mustShow(t, winB, "Laptop (this computer)")
	mustShow(t, winB, practiceHost(devA.devs))
	kittest.Shot(t, winA, "sync-sent")
	kittest.Shot(t, winB, "sync-received")

	// A reads what B sent (the code B's sign-in spent): B's genuine
	// batches from before the revocation are taken.
	if _, err := sa.Sync(ctx, shared); err != nil {
		t.Fatal(err)
	}
	// Revoke B on A: the warning, then the row says revoked.
	devA = newDevicesScreen(winA, sa)
	show(winA, sa, "Computers", devA.view)
	kittest.Settle(t)
	if kittest.FindButton(winA, "Revoke…") == nil || len(buttons(winA, "Rename…")) != 2 {
		t.Fatal("an admin does not see Rename… on both rows and Revoke… on the other computer's")
	}
	kittest.Tapped(t, rowButton(t, devA, "Laptop", "Revoke…"))
	mustShow(t, winA, revokeWarning)
	kittest.Shot(t, winA, "devices-revoke-confirm")
	kittest.Tap(t, winA, "Revoke")
	kittest.Settle(t)
	laptop := device(t, devA.devs, "Laptop")
	if laptop.Revoked.IsZero() {
		t.Fatalf("Laptop is not revoked: %+v", laptop)
	}
	mustShow(t, winA, "“Laptop” was revoked.")
	mustShow(t, winA, "Revoked on")
	kittest.Shot(t, winA, "devices-revoked")

	// B keeps writing; A refuses it and says why.
	if _, _, err := sb.AddPatient(ctx, app.Patient{Given: "Rui", Family: "Costa", DOB: "1975-05-05"}); err != nil {
		t.Fatal(err)
	}
	kittest.Tap(t, winB, "Sync now")
	kittest.Shot(t, winB, "sync-after-revoked")
	syncA = newSyncScreen(winA, sa)
	show(winA, sa, "Sync", syncA.view)
	kittest.Settle(t)
	kittest.Tap(t, winA, "Sync now")
	if syncA.last == nil || syncA.last.rep.Refused == 0 {
		t.Fatalf("A's pass after the revocation: %+v", syncA.last)
	}
	mustShow(t, winA, "1 refused:")
	mustShow(t, winA, "“Laptop”: batch")
	if got, _ := sa.SearchPatients(ctx, "Costa", 10); len(got) != 0 {
		t.Fatalf("a revoked computer's patient reached A: %+v", got)
	}
	kittest.Shot(t, winA, "sync-refused")

	// The folder is unplugged.
	if err := os.Rename(shared, shared+"-gone"); err != nil {
		t.Fatal(err)
	}
	kittest.Tap(t, winA, "Sync now")
	if !errors.Is(syncA.last.err, cvsync.ErrUnreachable) {
		t.Fatalf("pass with the folder gone: %+v", syncA.last)
	}
	mustShow(t, winA, plain.Unreachable)
	kittest.Shot(t, winA, "sync-unreachable")
}

// practiceHost is the name of the computer the practice was created on.
func practiceHost(devs []app.Device) string {
	for _, d := range devs {
		if d.This {
			return d.Name
		}
	}
	return ""
}

// TestAddDeviceCancelAndExpire cancels a pairing, then lets a code expire.
func TestAddDeviceCancelAndExpire(t *testing.T) {
	f := newPractice(t)
	a := newApp(t)
	shared := sharedFolder(t)
	sa := f.signIn(f.a, adminName, adminPass)
	if err := sa.SetSyncFolder(context.Background(), shared); err != nil {
		t.Fatal(err)
	}
	w := newWindow(t, a, "ClinicVault")
	ds := newDevicesScreen(w, sa)
	show(w, sa, "Computers", ds.view)
	kittest.Settle(t)

	kittest.Tap(t, w, "Add a device…")
	if ds.adding == nil {
		t.Fatal("no dialog")
	}
	kittest.Tap(t, w, "Cancel")
	if ds.adding.step != "cancelled" || kittest.FindButton(w, "Approve") != nil {
		t.Fatalf("after Cancel the dialog is at %q", ds.adding.step)
	}
	mustShow(t, w, "No computer was added.")

	// The session locking closes the dialog and ends the wait.
	sl := f.signIn(f.a, adminName, adminPass)
	ds2 := newDevicesScreen(w, sl)
	show(w, sl, "Computers", ds2.view)
	kittest.Settle(t)
	kittest.Tap(t, w, "Add a device…")
	if err := sl.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	kittest.WaitFor(t, "the dialog to close", func() bool { return ds2.adding.step == "closed" && kittest.FindButton(w, "Cancel") == nil })
	show(w, sa, "Computers", ds.view)

	kittest.Tap(t, w, "Add a device…")
	add := ds.adding
	f.clk.Add(11 * time.Minute)
	kittest.WaitFor(t, "the code to expire", func() bool { return add.step == "failed" })
	mustShow(t, w, "did not answer before the code expired")
	kittest.Shot(t, w, "devices-add-expired")
	kittest.Tap(t, w, "Close")
}

// TestAddDeviceAsksForTheFolder asks for the sync folder when none is set.
func TestAddDeviceAsksForTheFolder(t *testing.T) {
	f := newPractice(t)
	a := newApp(t)
	shared := sharedFolder(t)
	sa := f.signIn(f.a, adminName, adminPass)
	w := newWindow(t, a, "ClinicVault")
	ds := newDevicesScreen(w, sa)
	show(w, sa, "Computers", ds.view)
	kittest.Settle(t)
	kittest.Tap(t, w, "Add a device…")
	mustShow(t, w, "neither is set on this computer yet")
	kittest.Shot(t, w, "devices-choose-folder")
	fakeFolder = shared
	kittest.Tap(t, w, "Choose…")
	kittest.Settle(t)
	if sa.SyncFolder(context.Background()) != shared || ds.adding == nil {
		t.Fatal("the folder was not set, or no code was made")
	}
	kittest.Tap(t, w, "Cancel")
}

// TestRenameDevice renames a computer.
func TestRenameDevice(t *testing.T) {
	f := newPractice(t)
	a := newApp(t)
	sa := f.signIn(f.a, adminName, adminPass)
	w := newWindow(t, a, "ClinicVault")
	ds := newDevicesScreen(w, sa)
	show(w, sa, "Computers", ds.view)
	kittest.Settle(t)
	kittest.Tapped(t, rowButton(t, ds, ds.devs[0].Name, "Rename…"))
	var entry *kit.Entry
	for _, r := range kittest.Roots(w) {
		kittest.Walk(r, func(o fyne.CanvasObject) bool {
			if e, ok := o.(*kit.Entry); ok {
				entry = e
				return true
			}
			return false
		})
		if entry != nil {
			break
		}
	}
	kittest.Retype(w, entry, "Front desk")
	kittest.Shot(t, w, "devices-rename")
	kittest.Tap(t, w, "Rename")
	kittest.Settle(t)
	if ds.devs[0].Name != "Front desk" {
		t.Fatalf("after renaming: %+v", ds.devs)
	}
	mustShow(t, w, "is now called “Front desk”")
}

// TestReceptionistSeesTheListOnly shows no admin actions to other roles.
func TestReceptionistSeesTheListOnly(t *testing.T) {
	f := newPractice(t)
	a := newApp(t)
	sa := f.signIn(f.a, adminName, adminPass)
	f.addUser(sa, "Rita Front", app.Receptionist, staffPass)
	sr := f.signIn(f.a, "Rita Front", staffPass)
	w := newWindow(t, a, "ClinicVault")
	ds := newDevicesScreen(w, sr)
	show(w, sr, "Computers", ds.view)
	kittest.Settle(t)
	if kittest.FindButton(w, "Add a device…") != nil || kittest.FindButton(w, "Revoke…") != nil || kittest.FindButton(w, "Rename…") != nil {
		t.Fatal("a receptionist sees admin actions")
	}
	mustShow(t, w, "Only an admin can add, rename or revoke computers.")
	kittest.Shot(t, w, "devices-receptionist")
}

// TestClockAheadIsNamed shows a computer whose clock runs ahead.
func TestClockAheadIsNamed(t *testing.T) {
	ctx := context.Background()
	f := newPractice(t)
	a := newApp(t)
	shared := sharedFolder(t)
	sa := f.signIn(f.a, adminName, adminPass)
	if err := sa.SetSyncFolder(ctx, shared); err != nil {
		t.Fatal(err)
	}
	clkB := kittest.NewClock(f.clk.Now())
	b := f.pairDirect(sa, shared, "Reception PC", clkB)
	sb := f.signIn(b, adminName, adminPass)
	clkB.Add(10 * time.Minute)
	if _, _, err := sb.AddPatient(ctx, app.Patient{Given: "Ana", Family: "Silva", DOB: "1980-01-01"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Sync(ctx, shared); err != nil {
		t.Fatal(err)
	}
	w := newWindow(t, a, "ClinicVault")
	y := newSyncScreen(w, sa)
	show(w, sa, "Sync", y.view)
	kittest.Settle(t)
	test.Tap(y.syncNow) // the result waits in the queue until settle
	if !y.syncNow.Disabled() || !y.busyText.Visible() {
		t.Fatal("no activity shown while syncing")
	}
	kittest.Shot(t, w, "sync-running")
	kittest.Settle(t)
	mustShow(t, w, "its clock runs 10 minutes 30 seconds ahead of this computer's")
	mustShow(t, w, "“Reception PC”: its clock runs")
	if d := device(t, y.devs, "Reception PC"); d.Problem.Kind != app.ProblemClockAhead || d.Problem.Wait != 10*time.Minute+30*time.Second {
		t.Fatalf("Reception PC's problem: %+v", d.Problem)
	}
	kittest.Shot(t, w, "sync-clock-ahead")
}

// TestHaltedLogIsShown: a batch of another computer replaced in the
// folder stops that computer's log; the Sync screen says so, in red, with
// what it means and what to do.
func TestHaltedLogIsShown(t *testing.T) {
	ctx := context.Background()
	f := newPractice(t)
	a := newApp(t)
	shared := sharedFolder(t)
	sa := f.signIn(f.a, adminName, adminPass)
	if err := sa.SetSyncFolder(ctx, shared); err != nil {
		t.Fatal(err)
	}
	b := f.pairDirect(sa, shared, "Reception PC", kittest.NewClock(f.clk.Now()))
	sb := f.signIn(b, adminName, adminPass)
	if _, _, err := sb.AddPatient(ctx, app.Patient{Given: "Ana", Family: "Silva", DOB: "1980-01-01"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sb.Sync(ctx, shared); err != nil {
		t.Fatal(err)
	}
	logDir := filepath.Join(shared, "devices", sb.DeviceID())
	files, err := os.ReadDir(logDir)
	if err != nil || len(files) == 0 {
		t.Fatalf("no batch of B: %v", err)
	}
	if err := os.WriteFile(filepath.Join(logDir, files[len(files)-1].Name()), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := newWindow(t, a, "ClinicVault")
	y := newSyncScreen(w, sa)
	show(w, sa, "Sync", y.view)
	kittest.Settle(t)
	test.Tap(y.syncNow)
	kittest.Settle(t)
	if d := device(t, y.devs, "Reception PC"); !d.Halted {
		t.Fatalf("Reception PC: %+v", d)
	}
	mustShow(t, w, "Stopped at its batch")
	kittest.Shot(t, w, "sync-halted")
}

// TestWords checks the sentences the screens build.
func TestWords(t *testing.T) {
	for in, want := range map[time.Duration]string{
		7 * time.Minute: "7 minutes",
		time.Hour + 2*time.Minute + 3*time.Second: "1 hour 2 minutes",
		45 * time.Second:       "45 seconds",
		61 * time.Second:       "1 minute 1 second",
		200 * time.Millisecond: "less than a second",
	} {
		if got := kit.Duration(in); got != want {
			t.Errorf("kit.Duration(%v) = %q, want %q", in, got, want)
		}
	}
	desk := "0190c0de-0000-7000-8000-00001a2b3c4d"
	devs := []app.Device{{ID: desk, Name: "Front desk"}}
	rep := app.SyncReport{Sent: 2, Applied: 5, Refused: 1, Problems: []app.SyncProblem{
		{Device: desk, Kind: app.ProblemWrongVault, Seq: 3, Halted: true, Detail: "batch 3 refused: it belongs to another practice's vault"}}}
	if got, want := reportText(rep, devs), "Sent 2, received 5, 1 refused:\n• “Front desk”: batch 3 refused: it belongs to another practice's vault."; got != want {
		t.Errorf("reportText = %q, want %q", got, want)
	}
	// The window words these from the kind and values, whatever app's
	// English says.
	held := app.SyncReport{Applied: 1, Problems: []app.SyncProblem{
		{Device: desk, Kind: app.ProblemNoKey, Seq: 4, Epoch: 1, Detail: "(app's words)"},
		{Device: "0190c0de-0000-7000-8000-0000deadbeef", Kind: app.ProblemClockAhead, Seq: 9, Wait: 7 * time.Minute, Detail: "(app's words)"},
		{Kind: app.ProblemAudit, Detail: "audit: the logs differ"}}}
	if got, want := reportText(held, devs), "Received 1.\n• “Front desk”: batch 4 is locked with newer keys (made when someone left or a computer was revoked) that have not reached this computer."+
		"\n• A computer not in the list yet (deadbeef): its clock runs 7 minutes ahead of this computer's: its changes are held until its date and time are fixed."+
		"\n• Audit: the logs differ."; got != want {
		t.Errorf("reportText = %q, want %q", got, want)
	}
	if got := reportText(app.SyncReport{}, nil); got != "Nothing new to send or receive." {
		t.Errorf("empty report: %q", got)
	}
}
