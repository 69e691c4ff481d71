package ui

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"

	"github.com/clinicvault/clinicvault/app"
)

// A remembered size stays between the smallest size the screens are
// designed for and 4096 a side; nonsense is the default size.
func TestWindowSizeIsClamped(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, c := range []struct{ in, want fyne.Size }{
		{fyne.NewSize(1280, 800), fyne.NewSize(1280, 800)},
		{fyne.NewSize(1024, 700), fyne.NewSize(1024, 700)},
		{fyne.NewSize(800, 600), fyne.NewSize(1024, 700)},
		{fyne.NewSize(0, 0), fyne.NewSize(1024, 700)},
		{fyne.NewSize(-5, 900), fyne.NewSize(1024, 900)},
		{fyne.NewSize(99999, 99999), fyne.NewSize(4096, 4096)},
		{fyne.NewSize(nan, 800), defaultWindowSize},
		{fyne.NewSize(1200, inf), defaultWindowSize},
	} {
		if got := clampWindowSize(c.in); got != c.want {
			t.Errorf("%v: %v, want %v", c.in, got, c.want)
		}
	}
}

// The window opens at the size it had when it last closed on this data
// folder, within bounds; without a remembered size, or with a damaged
// file, at 1024×700.
func TestWindowSizeIsRemembered(t *testing.T) {
	v, _ := newTestVault(t)
	if err := os.MkdirAll(v.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	g := newTestGUI(t, v)
	g.restoreWindow()
	if got := g.win.Canvas().Size(); got != defaultWindowSize && got != fyne.NewSize(1000, 700) {
		t.Fatalf("first start at %v", got)
	}
	g.win.Resize(fyne.NewSize(1280, 760))
	g.close()
	p, err := v.WindowPlace()
	if err != nil || p.Width != 1280 || p.Height != 760 || p.Placed {
		t.Fatalf("saved %+v %v", p, err)
	}
	g.win.Resize(fyne.NewSize(1500, 900))
	g.saveWindowStopped() // the app stopping after the window closed
	if p, _ := v.WindowPlace(); p.Width != 1280 {
		t.Fatalf("saved again after the window closed: %+v", p)
	}

	reopen := func() fyne.Size {
		g := newTestGUI(t, v)
		g.restoreWindow()
		return g.win.Canvas().Size()
	}
	if got := reopen(); got != fyne.NewSize(1280, 760) {
		t.Fatalf("reopened at %v, want 1280×760", got)
	}
	v.SaveWindowPlace(app.WindowPlace{Width: 20000, Height: 300})
	if got := reopen(); got != fyne.NewSize(4096, 700) {
		t.Fatalf("reopened at %v, want 4096×700", got)
	}
	// Ended by a signal, the window is not closed: its size is kept all
	// the same.
	g = newTestGUI(t, v)
	g.restoreWindow()
	g.win.Resize(fyne.NewSize(1300, 720))
	g.saveWindowStopped()
	if p, _ := v.WindowPlace(); p.Width != 1300 || p.Height != 720 {
		t.Fatalf("saved at stop: %+v", p)
	}
	os.WriteFile(filepath.Join(v.Dir, app.WindowFile), []byte("not json"), 0o600)
	g = newTestGUI(t, v)
	g.win.Resize(fyne.NewSize(1111, 777))
	g.restoreWindow()
	if got := g.win.Canvas().Size(); got != fyne.NewSize(1111, 777) {
		t.Fatalf("a damaged file changed the size to %v", got)
	}
}

// When the system locks the computer, the signed-in session locks and the
// sign-in screen says why; with nobody signed in nothing happens.
func TestSystemLockLocksTheSession(t *testing.T) {
	g, _, clk, _ := signedInAdmin(t)
	s := g.session
	clk.Add(time.Minute)
	g.lockForSystem()
	settle(t, g)
	if !s.Locked() || g.screen != "signin" || g.session != nil {
		t.Fatalf("after the system lock: locked %v, screen %q", s.Locked(), g.screen)
	}
	if !strings.Contains(g.signIn.status.Text, "locked when the computer was locked") {
		t.Errorf("the sign-in screen says %q", g.signIn.status.Text)
	}
	if g.signIn.user.Selected != "Dana Whitfield" {
		t.Errorf("user %q preselected", g.signIn.user.Selected)
	}
	shotSizes(t, g, "signin-system-lock")
	before := g.signIn
	g.lockForSystem()
	settle(t, g)
	if g.screen != "signin" || g.signIn != before {
		t.Fatal("a system lock with nobody signed in changed the screen")
	}
}

// A second start's request brings the window forward on the UI thread
// and returns; once the window has closed it returns at once.
func TestRaiseFromElsewhere(t *testing.T) {
	v, _ := newTestVault(t)
	g := newTestGUI(t, v)
	done := make(chan struct{})
	go func() {
		g.raiseFromElsewhere()
		close(done)
	}()
	ran := false
	start := time.Now()
	for waiting := true; waiting; {
		select {
		case f := <-g.queue:
			f()
			ran = true
		case <-done:
			waiting = false
		case <-time.After(10 * time.Second):
			t.Fatal("the request did not return")
		}
	}
	if !ran || time.Since(start) >= raiseWithin {
		t.Fatalf("the window was not raised on the UI thread (ran %v, %v)", ran, time.Since(start))
	}
	g.close()
	start = time.Now()
	g.raiseFromElsewhere()
	if d := time.Since(start); d > raiseWithin/2 {
		t.Fatalf("after close the request waited %v", d)
	}
}

// The import screen's file dialog opens in the user's Documents folder.
func TestImportDialogStartsInDocuments(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	docs := filepath.Join(home, "Documents")
	os.Mkdir(docs, 0o700)
	os.WriteFile(filepath.Join(docs, "patients-from-documents.csv"), []byte("Name\n"), 0o600)
	os.WriteFile(filepath.Join(home, "patients-from-home.csv"), []byte("Name\n"), 0o600)

	g, _, _, _ := signedInAdmin(t)
	if !g.shell.openNamed("Import") {
		t.Fatal("no Import")
	}
	g.shell.imports.pickFile()
	if !showsText(g, "patients-from-documents") || showsText(g, "patients-from-home") {
		t.Fatal("the import dialog does not open in Documents")
	}
	shotSizes(t, g, "import-dialog-documents")
}
