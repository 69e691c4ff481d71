package devices

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"

	"github.com/clinicvault/clinicvault/ui/kit/kittest"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// TestJoinErrorsKeepTheForm shows plain messages and keeps what was typed.
func TestJoinErrorsKeepTheForm(t *testing.T) {
	f := newPractice(t)
	a := newApp(t)
	shared := sharedFolder(t)
	sa := f.signIn(f.a, adminName, adminPass)
	b := newMachine(t, "b", f.clk)
	w := newWindow(t, a, "ClinicVault")
	join := newJoinScreen(w, b.v, func() { t.Fatal("joined") }, nil)
	w.SetContent(join.view)
	if kittest.FindButton(w, "Back") != nil {
		t.Fatal("Back shows without onBack")
	}

	// Nothing typed.
	join.name.SetText("Laptop")
	kittest.Tap(t, w, "Join")
	mustShow(t, w, "Choose the shared sync folder first.")

	// A code nobody made.
	join.folder.SetText(shared)
	kittest.Retype(w, join.code, "ABCDE-12345")
	kittest.Tap(t, w, "Join")
	kittest.WaitFor(t, "the error", func() bool { return !join.joining })
	mustShow(t, w, "There is no invitation for this code in that folder.")
	if join.code.Text != "ABCDE-12345" || join.folder.Text != shared || join.name.Text != "Laptop" || join.join.Disabled() {
		t.Fatal("the form was not kept")
	}
	kittest.Shot(t, w, "join-error")

	// A folder that is not there.
	join.folder.SetText(filepath.Join(shared, "missing"))
	kittest.Tap(t, w, "Join")
	kittest.WaitFor(t, "the error", func() bool { return !join.joining })
	mustShow(t, w, plain.Unreachable)

	// A real code, then Cancel while waiting for the admin.
	join.folder.SetText(shared)
	inv, err := sa.InviteDevice(context.Background(), shared)
	if err != nil {
		t.Fatal(err)
	}
	// The admin's computer answers the commitment with its nonce: only
	// then does the new computer reveal and show the fingerprint.
	waited := make(chan error, 1)
	go func() {
		_, _, err := inv.WaitForDevice(context.Background(), f.clk.Now, 10*time.Millisecond)
		waited <- err
	}()
	kittest.Retype(w, join.code, inv.Code)
	kittest.Tap(t, w, "Join")
	kittest.WaitFor(t, "the fingerprint", func() bool { return join.fpBox.Visible() })
	kittest.Tap(t, w, "Cancel")
	kittest.WaitFor(t, "the cancellation", func() bool { return !join.joining })
	mustShow(t, w, "Joining was cancelled.")
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if b.v.Exists() {
		t.Fatal("a cancelled join left a vault")
	}

	// The same code again: already answered.
	kittest.Tap(t, w, "Join")
	kittest.WaitFor(t, "the error", func() bool { return !join.joining })
	mustShow(t, w, "Another computer already answered this code; ask for a new one.")

	// A folder that already holds a vault.
	join2 := newJoinScreen(w, f.a.v, nil, func() {})
	w.SetContent(join2.view)
	join2.folder.SetText(shared)
	join2.code.SetText(inv.Code)
	kittest.Tap(t, w, "Join")
	kittest.WaitFor(t, "the error", func() bool { return !join2.joining })
	mustShow(t, w, "This computer already holds a ClinicVault vault")
}

// TestJoinThroughAWrongRelayKeepsTheForm: on the Join screen with “A
// relay” chosen, a mistyped address, a relay that is not there, a bad
// fingerprint and a relay with no invitation for the code each say so in
// a plain sentence, keep what was typed, and put the cursor where to
// look.
func TestJoinThroughAWrongRelayKeepsTheForm(t *testing.T) {
	f := newPractice(t)
	a := newApp(t)
	b := newMachine(t, "b", f.clk)
	w := newWindow(t, a, "ClinicVault")
	join := newJoinScreen(w, b.v, func() { t.Fatal("joined") }, nil)
	w.SetContent(join.view)
	join.via.SetSelected(viaRelay)
	if join.form.Items[1].Widget != join.relay || join.form.Items[2].Widget != join.relayFP {
		t.Fatal("choosing the relay does not ask for its address and fingerprint")
	}
	kittest.Retype(w, join.code, "ABCDE-12345")
	kittest.Retype(w, join.name, "Laptop")
	kept := func(addr string) {
		t.Helper()
		if !join.viaRelay() || join.relay.Text != addr || join.code.Text != "ABCDE-12345" || join.name.Text != "Laptop" ||
			!join.form.Visible() || join.join.Disabled() || join.relay.Disabled() {
			t.Fatalf("the form was not kept: relay %v %q, code %q, name %q", join.viaRelay(), join.relay.Text, join.code.Text, join.name.Text)
		}
	}

	// Not an address; Enter in the name joins.
	kittest.Retype(w, join.relay, "http://relay.example")
	w.Canvas().Focus(join.name)
	press(t, w, fyne.KeyReturn)
	mustShow(t, w, "Type the relay's address as the admin's screen shows it: nats://HOST:PORT.")
	focused(t, w, join.relay, "relay address")
	kept("http://relay.example")

	// An address where no relay listens.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "nats://" + l.Addr().String()
	l.Close()
	kittest.Retype(w, join.relay, gone)
	kittest.Tap(t, w, "Join")
	kittest.WaitFor(t, "the error", func() bool { return !join.joining })
	mustShow(t, w, "This computer did not join. The relay at "+gone+" cannot be reached. Check its address on the admin's screen")
	focused(t, w, join.relay, "relay address")
	kept(gone)
	kittest.ShotSizes(t, w, "join-relay-error")

	// A fingerprint that is not one.
	kittest.Retype(w, join.relayFP, "sha256:1234")
	kittest.Tap(t, w, "Join")
	mustShow(t, w, "The fingerprint is “sha256:” and 64 letters and digits, as the admin's screen shows it; or leave it empty.")
	focused(t, w, join.relayFP, "fingerprint")
	kittest.Retype(w, join.relayFP, "")

	// A relay that is there, with no invitation for this code.
	srv := stockRelay(t)
	kittest.Retype(w, join.relay, strings.TrimPrefix(srv.ClientURL(), "nats://")) // nats:// is added
	kittest.Tap(t, w, "Join")
	kittest.WaitFor(t, "the error", func() bool { return !join.joining })
	mustShow(t, w, "There is no invitation for this code on that relay.")
	focused(t, w, join.code, "code")
	kept(srv.ClientURL())
	if b.v.Exists() {
		t.Fatal("a failed join left a vault")
	}
}
