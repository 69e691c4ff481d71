package devices

import (
	"context"
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/clinicvault/clinicvault/sync/relayserver"
	"github.com/clinicvault/clinicvault/ui/kit/kittest"
)

// pairThroughRelayScreens pairs a new computer through the relay the
// admin's session sa has set, driving both windows through their
// widgets: on A, Computers → Add a device… → “Through the relay” → Make
// a code; on B, the Join screen, with the keyboard only (Tab from field
// to field, Space to choose the relay, Enter to join), given the
// relay's address, and its fingerprint when withFingerprint. A approves
// when both show the same number. shoot takes the screenshots. It returns B, joined, and A's dialog.
func pairThroughRelayScreens(t *testing.T, f *practiceFixture, a fyne.App, sa *app.Session, withFingerprint, shoot bool) (*machine, *addDialog) {
	t.Helper()
	ctx := context.Background()
	relay := sa.SyncRelay(ctx)
	winA := newWindow(t, a, "ClinicVault — front desk")
	devA := newDevicesScreen(winA, sa)
	show(winA, sa, "Computers", devA.view)
	kittest.Settle(t)

	// A: how the new computer comes: the folder when one is set, else
	// the relay; the admin chooses the relay.
	kittest.Tap(t, winA, "Add a device…")
	way := devA.choosing
	if way == nil {
		t.Fatal("no question of how the new computer comes, with a relay set")
	}
	if want := map[bool]string{true: wayFolder, false: wayRelay}[sa.SyncFolder(ctx) != ""]; way.how.Selected != want {
		t.Fatalf("chosen at first: %q, want %q", way.how.Selected, want)
	}
	way.how.SetSelected(wayRelay)
	mustShow(t, winA, "The new computer reaches the relay at "+relay.URL)
	if shoot {
		kittest.ShotSizes(t, winA, "devices-add-relay-how")
	}
	kittest.Tap(t, winA, "Make a code")
	kittest.Settle(t)
	add := devA.adding
	if add == nil || add.step != "code" || !add.at.IsRelay() || add.at.Relay != relay {
		t.Fatalf("no code through the relay: %+v", add)
	}
	mustShow(t, winA, add.inv.Code)
	mustShow(t, winA, "Choose “A relay”, and type the relay's address")
	mustShow(t, winA, relay.URL)
	cmd := "clinicvault join --relay " + relay.URL
	if relay.Fingerprint != "" {
		mustShow(t, winA, relay.Fingerprint)
		cmd += " --fingerprint " + relay.Fingerprint
	}
	mustShow(t, winA, cmd+" --code "+add.inv.Code)
	if shoot {
		kittest.ShotSizes(t, winA, "devices-add-relay-code")
	}

	// B: the Join screen, by keyboard.
	b := newMachine(t, "b", f.clk)
	winB := newWindow(t, a, "ClinicVault — laptop")
	joined := false
	join := newJoinScreen(winB, b.v, func() { joined = true }, func() {})
	winB.SetContent(join.view)
	winB.Resize(fyne.NewSize(1000, 700))
	kittest.Settle(t)
	winB.Canvas().FocusNext() // the first choice: the folder
	winB.Canvas().FocusNext() // the second: a relay
	winB.Canvas().Focused().TypedRune(' ')
	if !join.viaRelay() {
		t.Fatalf("Space on the second choice did not choose the relay (focus on %T)", winB.Canvas().Focused())
	}
	winB.Canvas().FocusNext()
	focused(t, winB, join.relay, "relay address")
	kittest.TypeIn(winB, join.relay, relay.URL)
	winB.Canvas().FocusNext()
	focused(t, winB, join.relayFP, "fingerprint")
	if withFingerprint {
		kittest.TypeIn(winB, join.relayFP, relay.Fingerprint)
	}
	winB.Canvas().FocusNext()
	focused(t, winB, join.code, "code")
	kittest.TypeIn(winB, join.code, strings.ToLower(add.inv.Code))
	winB.Canvas().FocusNext()
	focused(t, winB, join.name, "name")
	kittest.Retype(winB, join.name, "Laptop")
	if shoot {
		kittest.ShotSizes(t, winB, "join-relay")
	}
	press(t, winB, fyne.KeyReturn)
	kittest.WaitFor(t, "both fingerprints", func() bool { return add.step == "fingerprint" && join.fpBox.Visible() })
	if add.fp == "" || add.fp != join.fp.label.Text {
		t.Fatalf("fingerprints differ: A shows %q, B shows %q", add.fp, join.fp.label.Text)
	}
	mustShow(t, winB, "Relay: "+relay.URL)
	if shoot {
		kittest.Shot(t, winA, "devices-add-relay-fingerprint")
		kittest.Shot(t, winB, "join-relay-fingerprint")
	}

	// A approves, then syncs through the relay: B is admitted.
	kittest.Tap(t, winA, "Approve")
	kittest.WaitFor(t, "B to join", func() bool { return joined })
	if add.step != "done" {
		t.Fatalf("A's dialog is at %q", add.step)
	}
	mustShow(t, winA, "“Laptop” is now one of the practice's computers.")
	mustShow(t, winB, "This computer has joined Practice.")
	if p, ok := hubPass(sa, "relay:"+relay.URL); !ok || p.err != nil {
		t.Fatalf("A's pass through the relay after approving: %+v", p)
	}
	kittest.Tap(t, winB, "OK")
	kittest.Tap(t, winA, "Close")
	return b, add
}

// hubPass is s's last pass through place as the Sync screens see it.
func hubPass(s *app.Session, place string) (pass, bool) {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	p, ok := hub.last[s][place]
	return p, ok
}

// findsThroughTheRelay signs an admin in on m, checks that its relay is
// the practice's and it has no folder, syncs with Sync now and checks
// that the patient called family arrived.
func findsThroughTheRelay(t *testing.T, f *practiceFixture, a fyne.App, m *machine, relay app.RelayLink, family string) {
	t.Helper()
	ctx := context.Background()
	sb := f.signIn(m, adminName, adminPass)
	if got := sb.SyncRelay(ctx); got.URL != relay.URL || relay.Fingerprint != "" && got.Fingerprint != relay.Fingerprint {
		t.Fatalf("B's relay is %+v, want %+v", got, relay)
	}
	if dir := sb.SyncFolder(ctx); dir != "" {
		t.Fatalf("B, joined through the relay, has a folder: %q", dir)
	}
	w := newWindow(t, a, "ClinicVault — laptop")
	y := newSyncScreen(w, sb)
	show(w, sb, "Sync", y.view)
	kittest.Settle(t)
	// (Joining took what the relay held already: this pass may
	// bring nothing new.)
	kittest.Tap(t, w, "Sync now")
	if y.lastRelay == nil || y.lastRelay.err != nil || y.lastRelay.rep.Refused > 0 {
		t.Fatalf("B's pass through the relay: %+v", y.lastRelay)
	}
	got, err := sb.SearchPatients(ctx, family, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("the patient %s on B: %v %+v", family, err, got)
	}
	mustShow(t, w, "Laptop (this computer)")
}

// TestPairThroughTheRelayInTheScreens: a practice with a folder and a
// stock NATS relay adds a laptop through the relay, the laptop given
// the relay's address only; the laptop then finds the practice's
// patient through the relay.
func TestPairThroughTheRelayInTheScreens(t *testing.T) {
	ctx := context.Background()
	f := newPractice(t)
	a := newApp(t)
	sa := f.signIn(f.a, adminName, adminPass)
	if err := sa.SetSyncFolder(ctx, sharedFolder(t)); err != nil {
		t.Fatal(err)
	}
	srv := stockRelay(t)
	relay := app.RelayLink{URL: srv.ClientURL()}
	if err := sa.SetSyncRelay(ctx, relay); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sa.AddPatient(ctx, app.Patient{Given: "Ana", Family: "Silva", DOB: "1980-01-01"}); err != nil {
		t.Fatal(err)
	}
	b, _ := pairThroughRelayScreens(t, f, a, sa, false, false)
	findsThroughTheRelay(t, f, a, b, relay, "Silva")
}

// TestPairThroughRelayServeInTheScreens: a practice with no folder whose
// relay is one relay serve made (claimed, pinned): the dialog shows its
// fingerprint, the laptop types it, and the relay admits the laptop once
// A has synced after approving.
func TestPairThroughRelayServeInTheScreens(t *testing.T) {
	ctx := context.Background()
	f := newPractice(t)
	a := newApp(t)
	sa := f.signIn(f.a, adminName, adminPass)
	_, relay := claimedRelay(t, sa)
	if _, _, err := sa.AddPatient(ctx, app.Patient{Given: "Rui", Family: "Costa", DOB: "1975-05-05"}); err != nil {
		t.Fatal(err)
	}
	b, _ := pairThroughRelayScreens(t, f, a, sa, true, true)
	findsThroughTheRelay(t, f, a, b, relay, "Costa")
}

// TestRevokeThroughTheRelayInTheScreens: on a computer with a relay and
// no folder, Revoke… goes through the relay without asking for a folder,
// and the relay (made by relay serve) turns the revoked laptop away.
func TestRevokeThroughTheRelayInTheScreens(t *testing.T) {
	ctx := context.Background()
	f := newPractice(t)
	a := newApp(t)
	sa := f.signIn(f.a, adminName, adminPass)
	rs, relay := claimedRelay(t, sa)
	b, _ := pairThroughRelayScreens(t, f, a, sa, true, false)
	if got := len(rs.Access().Members); got != 2 {
		t.Fatalf("the relay admits %d computers, want 2", got)
	}
	sb := f.signIn(b, adminName, adminPass)
	if _, err := sb.SyncAt(ctx, app.RelayPlace(relay)); err != nil {
		t.Fatal(err)
	}
	if _, err := sa.SyncAt(ctx, app.RelayPlace(relay)); err != nil {
		t.Fatal(err)
	}
	winA := newWindow(t, a, "A")
	devA := newDevicesScreen(winA, sa)
	show(winA, sa, "Computers", devA.view)
	kittest.Settle(t)
	kittest.Tapped(t, rowButton(t, devA, "Laptop", "Revoke…"))
	mustShow(t, winA, revokeWarning)
	kittest.Tap(t, winA, "Revoke")
	kittest.Settle(t)
	mustShow(t, winA, "“Laptop” was revoked.")
	if got := len(rs.Access().Members); got != 1 {
		t.Fatalf("after the revocation the relay admits %d computers, want 1", got)
	}
	sb.Lock(ctx)
	sb = f.signIn(b, adminName, adminPass)
	if _, err := sb.SyncAt(ctx, app.RelayPlace(relay)); !errors.Is(err, cvsync.ErrRelayRefused) {
		t.Fatalf("the revoked laptop through the relay: %v, want ErrRelayRefused", err)
	}
}

// claimedRelay runs a relay made by relay serve, claimed by the admin sa.
func claimedRelay(t *testing.T, sa *app.Session) (*relayserver.Relay, app.RelayLink) {
	t.Helper()
	rs, err := relayserver.Start(relayserver.Options{Listen: "127.0.0.1:0", Store: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Shutdown)
	relay := app.RelayLink{URL: rs.URL(), Fingerprint: rs.Fingerprint()}
	if err := sa.ClaimRelay(context.Background(), relay, rs.ClaimCode()); err != nil {
		t.Fatal(err)
	}
	return rs, relay
}
