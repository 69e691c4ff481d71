package devices

import (
	"context"
	"path/filepath"
	"testing"
	"time"

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
