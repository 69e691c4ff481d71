package ui

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/pquerna/otp/totp"

	"github.com/clinicvault/clinicvault/app"
)

// Passphrases the policy accepts (and that contain no test names).
const (
	adminPass = "copper lantern orbit meadow"
	staffPass = "violet harbour tractor pebble"
	newPass   = "granite puffin saxophone delta"
)

// clock is a settable clock safe for the idle ticker's goroutine.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on by d.
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newTestVault is an empty vault folder with fast key derivation and a
// clock the test controls.
func newTestVault(t *testing.T) (*app.Vault, *clock) {
	t.Helper()
	v := app.NewVault(filepath.Join(t.TempDir(), "vault"))
	v.UseMinimumKDF()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	v.Now = clk.Now
	return v, clk
}

// code returns the authenticator code for secret at the clock's time.
func code(t *testing.T, secret string, clk *clock) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c
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
	enr, err := app.NewEnrollment(practice, admin)
	if err != nil {
		t.Fatal(err)
	}
	if !enr.Confirm(code(t, enr.Secret(), clk), clk.Now()) {
		t.Fatal("enrollment refused its own code")
	}
	created, err := v.Create(context.Background(), practice, admin, adminPass, enr)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(30 * time.Second) // the confirming code is spent
	return enr.Secret(), created.RecoveryKey
}

// newTestGUI opens the window on v in a headless test app, in the light
// theme variant so screenshots are stable.
func newTestGUI(t *testing.T, v *app.Vault) *gui {
	t.Helper()
	a := test.NewTempApp(t)
	g := newGUI(a, v)
	g.queue = make(chan func(), 256)
	light := theme.VariantLight
	a.Settings().SetTheme(&clinicTheme{Theme: theme.DefaultTheme(), variant: &light})
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
	if os.Getenv("CLINICVAULT_SCREENSHOTS") != "1" {
		return
	}
	g.win.Resize(fyne.NewSize(1000, 700))
	// The desktop driver lays out again, every frame, whatever changed
	// its minimum size; the test canvas does not, so do it here.
	for range 3 {
		for _, r := range roots(g) {
			relayout(r)
		}
	}
	img := g.win.Canvas().Capture()
	dir := filepath.Join("testdata", "screens")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, name+".png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// walk visits o and everything drawn inside it, stopping when f says so.
func walk(o fyne.CanvasObject, f func(fyne.CanvasObject) bool) bool {
	if o == nil || !o.Visible() {
		return false
	}
	if f(o) {
		return true
	}
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			if walk(c, f) {
				return true
			}
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			if walk(c, f) {
				return true
			}
		}
	}
	return false
}

// roots are the canvas's layers, topmost first.
func roots(g *gui) []fyne.CanvasObject {
	c := g.win.Canvas()
	list := c.Overlays().List()
	out := make([]fyne.CanvasObject, 0, len(list)+1)
	for i := len(list) - 1; i >= 0; i-- {
		out = append(out, list[i])
	}
	return append(out, c.Content())
}

// button finds the visible button labelled text, in the topmost layer
// that has one.
func button(t *testing.T, g *gui, text string) *widget.Button {
	t.Helper()
	var found *widget.Button
	for _, r := range roots(g) {
		if walk(r, func(o fyne.CanvasObject) bool {
			if b, ok := o.(*widget.Button); ok && b.Text == text {
				found = b
				return true
			}
			return false
		}) {
			return found
		}
	}
	t.Fatalf("no button %q on screen %q", text, g.screen)
	return nil
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
	for _, r := range roots(g) {
		if walk(r, func(o fyne.CanvasObject) bool {
			switch x := o.(type) {
			case *widget.Label:
				return strings.Contains(x.Text, s)
			case *widget.RichText:
				return strings.Contains(x.String(), s)
			}
			return false
		}) {
			return true
		}
	}
	return false
}

// relayout lays out o and everything inside it again at their sizes.
func relayout(o fyne.CanvasObject) {
	if o == nil || !o.Visible() {
		return
	}
	switch x := o.(type) {
	case *fyne.Container:
		if x.Layout != nil {
			x.Layout.Layout(x.Objects, x.Size())
		}
		for _, c := range x.Objects {
			relayout(c)
		}
	case fyne.Widget:
		r := test.WidgetRenderer(x)
		r.Layout(x.Size())
		for _, c := range r.Objects() {
			relayout(c)
		}
	}
}
