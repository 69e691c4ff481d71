package devices

import (
	"context"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/pquerna/otp/totp"

	"github.com/clinicvault/clinicvault/app"
)

const (
	practice  = "Practice"
	adminName = "Admin"
	adminPass = "violet tugboat harmonica spreadsheet"
	staffPass = "copper lantern meadow quietly"
)

// fakeFolder is the folder the fake chooser "picks"; "" cancels.
var fakeFolder string

func TestMain(m *testing.M) {
	queue = make(chan func(), 4096)
	poll = 20 * time.Millisecond
	watchPoll = 100 * time.Millisecond
	settingPoll = 100 * time.Millisecond
	chooseFolder = func(_ fyne.Window, _ string, picked func(string)) {
		if fakeFolder != "" {
			picked(fakeFolder)
		}
	}
	os.Exit(m.Run())
}

// clock is a settable clock safe for background goroutines.
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

// machine is one computer: a vault folder and its clock.
type machine struct {
	t   *testing.T
	v   *app.Vault
	clk *clock
}

// newMachine is an empty data folder with fast key derivation and a
// clock the test controls.
func newMachine(t *testing.T, name string, clk *clock) *machine {
	t.Helper()
	v := app.NewVault(filepath.Join(t.TempDir(), name))
	v.UseMinimumKDF()
	v.Now = clk.Now
	return &machine{t: t, v: v, clk: clk}
}

// practiceFixture is the first computer's vault with its admin.
type practiceFixture struct {
	t       *testing.T
	clk     *clock
	a       *machine
	secrets map[string]string
}

// newPractice creates a vault with an admin on a first computer. The
// package's clock is the test's.
func newPractice(t *testing.T) *practiceFixture {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.Local)}
	now = clk.Now
	t.Cleanup(func() { now = time.Now })
	f := &practiceFixture{t: t, clk: clk, a: newMachine(t, "a", clk), secrets: map[string]string{}}
	enr, err := app.NewEnrollment(practice, adminName)
	if err != nil {
		t.Fatal(err)
	}
	if !enr.Confirm(code(t, enr.Secret(), clk.Now()), clk.Now()) {
		t.Fatal("enrollment refused its own code")
	}
	if _, err := f.a.v.Create(context.Background(), practice, adminName, adminPass, enr); err != nil {
		t.Fatal(err)
	}
	f.secrets[adminName] = enr.Secret()
	return f
}

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signIn moves m's clock to a fresh TOTP step (a step is never accepted
// twice) and signs name in on m.
func (f *practiceFixture) signIn(m *machine, name, pass string) *app.Session {
	f.t.Helper()
	m.clk.Add(30 * time.Second)
	s, err := m.v.SignIn(context.Background(), name, pass, code(f.t, f.secrets[name], m.clk.Now()))
	if err != nil {
		f.t.Fatalf("sign in %s on %s: %v", name, m.v.Dir, err)
	}
	f.t.Cleanup(func() { s.Lock(context.Background()) })
	return s
}

// addUser adds a member of staff through admin.
func (f *practiceFixture) addUser(admin *app.Session, name string, role app.Role, pass string) {
	f.t.Helper()
	enr, err := app.NewEnrollment(practice, name)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := admin.AddUser(context.Background(), name, role, pass, enr); err != nil {
		f.t.Fatalf("add %s: %v", name, err)
	}
	f.secrets[name] = enr.Secret()
}

// pairDirect pairs a new computer through app, without the screens.
func (f *practiceFixture) pairDirect(admin *app.Session, dir, name string, clk *clock) *machine {
	f.t.Helper()
	ctx := context.Background()
	inv, err := admin.InviteDevice(ctx, dir)
	if err != nil {
		f.t.Fatal(err)
	}
	m := newMachine(f.t, name, clk)
	done := make(chan error, 1)
	go func() { done <- m.v.Join(ctx, dir, inv.Code, name, nil, 10*time.Millisecond) }()
	req, _, err := inv.WaitForDevice(ctx, f.clk.Now, 10*time.Millisecond)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := admin.ApproveDevice(ctx, inv, req); err != nil {
		f.t.Fatal(err)
	}
	if err := <-done; err != nil {
		f.t.Fatalf("join: %v", err)
	}
	if _, err := admin.Sync(ctx, dir); err != nil {
		f.t.Fatal(err)
	}
	return m
}

// testTheme is ClinicVault's theme (teal primary, readable status
// colours) in the light variant, so screenshots match the app's.
type testTheme struct{ fyne.Theme }

func (t testTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	switch n {
	case theme.ColorNamePrimary:
		return color.NRGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0xff}
	case theme.ColorNameForegroundOnPrimary:
		return color.White
	case theme.ColorNameFocus:
		return color.NRGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0x50}
	case theme.ColorNameSelection:
		return color.NRGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0x40}
	case theme.ColorNameSuccess:
		return color.NRGBA{R: 0x15, G: 0x80, B: 0x3d, A: 0xff}
	case theme.ColorNameWarning:
		return color.NRGBA{R: 0xb4, G: 0x53, B: 0x09, A: 0xff}
	case theme.ColorNameError:
		return color.NRGBA{R: 0xb9, G: 0x1c, B: 0x1c, A: 0xff}
	}
	return t.Theme.Color(n, theme.VariantLight)
}

// newApp starts a headless test app in ClinicVault's light theme.
func newApp(t *testing.T) fyne.App {
	t.Helper()
	a := test.NewTempApp(t)
	a.Settings().SetTheme(testTheme{theme.DefaultTheme()})
	t.Cleanup(func() { settle(t) })
	return a
}

// newWindow opens a headless window.
func newWindow(t *testing.T, a fyne.App, title string) fyne.Window {
	t.Helper()
	w := a.NewWindow(title)
	w.SetPadded(true)
	w.Resize(fyne.NewSize(1000, 700))
	t.Cleanup(w.Close)
	return w
}

// frame is the shell around a screen, for screenshots: the practice's
// name on top and the navigation on the left.
func frame(who app.User, current string, screen fyne.CanvasObject) fyne.CanvasObject {
	name := widget.NewLabelWithStyle(practice, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.SizeName = theme.SizeNameSubHeadingText
	top := container.NewVBox(container.NewBorder(nil, nil, name, container.NewHBox(
		widget.NewLabel("Signed in as "+who.Name+" ("+string(who.Role)+")"), widget.NewButtonWithIcon("Lock", theme.LogoutIcon(), nil))),
		widget.NewSeparator())
	items := []string{"Today", "Patients", "Home", "Sync", "Computers", "My account"}
	nav := widget.NewList(func() int { return len(items) },
		func() fyne.CanvasObject { return widget.NewLabel("") },
		func(id widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(items[id]) })
	for i, it := range items {
		if it == current {
			nav.Select(i)
		}
	}
	left := container.NewBorder(nil, nil, nil, widget.NewSeparator(), container.New(fixedWidth{170}, nav))
	return container.NewBorder(top, nil, left, nil, container.NewPadded(screen))
}

// show puts screen in w inside the shell's frame.
func show(w fyne.Window, s *app.Session, current string, screen fyne.CanvasObject) {
	w.SetContent(frame(s.User(), current, screen))
	w.Resize(fyne.NewSize(1000, 700))
}

// settle runs the UI work other goroutines posted until no background
// work is left, as the desktop driver's event loop would.
func settle(t *testing.T) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case f := <-queue:
			f()
			continue
		default:
		}
		if pending.Load() == 0 {
			return
		}
		select {
		case f := <-queue:
			f()
		case <-timeout:
			t.Fatal("background work did not finish")
		}
	}
}

// waitFor runs posted UI work until done reports true.
func waitFor(t *testing.T, what string, done func() bool) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for !done() {
		select {
		case f := <-queue:
			f()
		case <-time.After(20 * time.Millisecond):
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// shot saves the window to testdata/screens/NAME.png when
// CLINICVAULT_SCREENSHOTS=1.
func shot(t *testing.T, w fyne.Window, name string) {
	t.Helper()
	if os.Getenv("CLINICVAULT_SCREENSHOTS") != "1" {
		return
	}
	w.Resize(fyne.NewSize(1000, 700))
	// The desktop driver lays out again, every frame, whatever changed
	// its minimum size; the test canvas does not, so do it here.
	for range 3 {
		for _, r := range roots(w) {
			relayout(r)
		}
	}
	img := w.Canvas().Capture()
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
func roots(w fyne.Window) []fyne.CanvasObject {
	c := w.Canvas()
	list := c.Overlays().List()
	out := make([]fyne.CanvasObject, 0, len(list)+1)
	for i := len(list) - 1; i >= 0; i-- {
		out = append(out, list[i])
	}
	return append(out, c.Content())
}

// findButton finds the visible button labelled text in the topmost layer
// that has one, or nil.
func findButton(w fyne.Window, text string) *widget.Button {
	var found *widget.Button
	for _, r := range roots(w) {
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
	return nil
}

// buttons finds every visible button labelled text in the topmost layer
// that has one, in drawing order.
func buttons(w fyne.Window, text string) []*widget.Button {
	for _, r := range roots(w) {
		var found []*widget.Button
		walk(r, func(o fyne.CanvasObject) bool {
			if b, ok := o.(*widget.Button); ok && b.Text == text {
				found = append(found, b)
			}
			return false
		})
		if len(found) > 0 {
			return found
		}
	}
	return nil
}

// tap taps the button labelled text, which must be enabled, and settles.
func tap(t *testing.T, w fyne.Window, text string) {
	t.Helper()
	b := findButton(w, text)
	if b == nil {
		t.Fatalf("no button %q", text)
	}
	tapped(t, b)
}

// tapped taps b, which must be enabled, and settles.
func tapped(t *testing.T, b *widget.Button) {
	t.Helper()
	if b.Disabled() {
		t.Fatalf("button %q is disabled", b.Text)
	}
	test.Tap(b)
	settle(t)
}

// showsText reports whether a visible label or rich text contains s.
func showsText(w fyne.Window, s string) bool {
	for _, r := range roots(w) {
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

// mustShow fails unless a visible label in w contains s.
func mustShow(t *testing.T, w fyne.Window, s string) {
	t.Helper()
	if !showsText(w, s) {
		t.Fatalf("the window does not show %q", s)
	}
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

// typeIn focuses e and types s into it.
func typeIn(w fyne.Window, e *widget.Entry, s string) {
	w.Canvas().Focus(e)
	e.SetText("")
	for _, r := range s {
		e.TypedRune(r)
	}
}
