package ui

import (
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/kit/kittest"
)

// Passphrases the policy accepts (and that contain no test names).
const (
	adminPass = "copper lantern orbit meadow"
	staffPass = "violet harbour tractor pebble"
	newPass   = "granite puffin saxophone delta"
)

// clock is a settable clock safe for the idle ticker's goroutine.
type clock = kittest.Clock

// newTestVault is an empty vault folder with fast key derivation and a
// clock the test controls.
func newTestVault(t *testing.T) (*app.Vault, *clock) {
	t.Helper()
	clk := kittest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	return kittest.NewVault(t, "vault", clk), clk
}

// code returns the authenticator code for secret at the clock's time.
func code(t *testing.T, secret string, clk *clock) string {
	t.Helper()
	return kittest.Code(t, secret, clk.Now())
}

// wrongCode is a six-digit code that is not right.
func wrongCode(right string) string {
	if right == "123456" {
		return "654321"
	}
	return "123456"
}

// createVault makes a vault through app (not the wizard) and returns the
// admin's TOTP secret and the recovery key.
func createVault(t *testing.T, v *app.Vault, clk *clock, practice, admin string) (secret, recoveryKey string) {
	t.Helper()
	secret, recoveryKey = kittest.CreateVault(t, v, clk, practice, admin, adminPass)
	clk.Add(30 * time.Second) // the confirming code is spent
	return secret, recoveryKey
}

// newTestGUI opens the window on v in a headless test app, in the light
// theme variant so screenshots are stable.
func newTestGUI(t *testing.T, v *app.Vault) *gui {
	t.Helper()
	a := test.NewTempApp(t)
	g := newGUI(a, v)
	g.queue = make(chan func(), 256)
	a.Settings().SetTheme(kit.ThemeIn(theme.VariantLight))
	g.win.Resize(fyne.NewSize(1000, 700))
	t.Cleanup(func() {
		settle(t, g)
		g.close()
	})
	return g
}

// signInGUI signs in on the sign-in screen and waits for the result.
func signInGUI(t *testing.T, g *gui, name, pass, code string) {
	t.Helper()
	if g.screen != "signin" {
		t.Fatalf("screen is %q, want signin", g.screen)
	}
	s := g.signIn
	s.user.SetSelected(name)
	s.pass.SetText("")
	typeIn(g, s.pass, pass)
	s.code.SetText("")
	typeIn(g, s.code, code)
	pressEnter(t, g, s.code)
}

// settle runs the UI work other goroutines posted until no background
// work is left, as the desktop driver's event loop would.
func settle(t *testing.T, g *gui) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f := <-g.queue:
			f()
			continue
		default:
		}
		if g.pending.Load() == 0 {
			return
		}
		select {
		case f := <-g.queue:
			f()
		case <-timeout:
			t.Fatal("background work did not finish")
		}
	}
}

// runPosted runs posted UI work until done reports true.
func runPosted(t *testing.T, g *gui, done func() bool) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for !done() {
		select {
		case f := <-g.queue:
			f()
		case <-timeout:
			t.Fatal("timed out waiting for the UI")
		}
	}
}

// typeIn focuses f through the window (so the focus moves as it would
// for a user) and types s into it.
func typeIn(g *gui, f fyne.Focusable, s string) {
	g.win.Canvas().Focus(f)
	for _, r := range s {
		f.TypedRune(r)
	}
}

// pressEnter types Return in f and lets the UI settle.
func pressEnter(t *testing.T, g *gui, f fyne.Focusable) {
	t.Helper()
	f.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	settle(t, g)
}

// shot saves the window to testdata/screens/NAME.png when
// CLINICVAULT_SCREENSHOTS=1.
func shot(t *testing.T, g *gui, name string) {
	t.Helper()
	kittest.Shot(t, g.win, name)
}

// golden compares the window with its golden image,
// testdata/golden/NAME.png, with each of scrub (a random MRN) hidden (see
// kittest.Golden).
func golden(t *testing.T, g *gui, name string, scrub ...string) {
	t.Helper()
	kittest.Golden(t, g.win, name, scrub...)
}

// shotSizes writes the window at 1366×768 and 1024×700, to look at.
func shotSizes(t *testing.T, g *gui, name string) {
	t.Helper()
	kittest.ShotSizes(t, g.win, name)
}

// button finds the visible button labelled text, in the topmost layer
// that has one.
func button(t *testing.T, g *gui, text string) *widget.Button {
	t.Helper()
	b := kittest.FindButton(g.win, text)
	if b == nil {
		t.Fatalf("no button %q on screen %q", text, g.screen)
	}
	return b
}

// tap taps the button labelled text, which must be enabled.
func tap(t *testing.T, g *gui, text string) {
	t.Helper()
	b := button(t, g, text)
	if b.Disabled() {
		t.Fatalf("button %q is disabled", text)
	}
	test.Tap(b)
	settle(t, g)
}

// showsText reports whether a visible label or text contains s.
func showsText(g *gui, s string) bool {
	return kittest.ShowsText(g.win, s)
}
