package admin

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
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/pquerna/otp/totp"

	"github.com/clinicvault/clinicvault/app"
)

// Passphrases the policy accepts.
const (
	adminPass  = "violet tugboat harmonica spreadsheet"
	staffPass  = "copper lantern meadow quietly"
	doctorPass = "saffron glacier typewriter pebble"
	otherPass  = "amber walrus pinecone sextant"
	practice   = "Riverside Family Practice"
	adminName  = "Dana Whitfield"
)

// fake answers the file dialogs in tests.
var fake struct {
	folder string // the folder "chosen"; "" cancels
	open   string // the file "chosen"; "" cancels
	save   string // the folder a saved file goes in; "" cancels
	saved  string // the last file saved
}

func TestMain(m *testing.M) {
	queue = make(chan func(), 4096)
	files = fileChooser{
		folder: func(_ fyne.Window, _ string, picked func(string)) {
			if fake.folder != "" {
				picked(fake.folder)
			}
		},
		open: func(_ fyne.Window, _ string, _ []string, picked func(string)) {
			if fake.open != "" {
				picked(fake.open)
			}
		},
		save: func(_ fyne.Window, name string, picked func(fyne.URIWriteCloser)) {
			if fake.save == "" {
				return
			}
			p := filepath.Join(fake.save, name)
			w, err := storage.Writer(storage.NewFileURI(p))
			if err != nil {
				panic(err)
			}
			fake.saved = p
			picked(w)
		},
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

// fixture is a real vault with its clock and everyone's TOTP secrets.
type fixture struct {
	t        *testing.T
	v        *app.Vault
	clk      *clock
	secrets  map[string]string
	recovery string
	admin    *app.Session
}

// newFixture creates a vault with an admin and signs the admin in.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)}
	v := app.NewVault(filepath.Join(t.TempDir(), "v"))
	v.UseMinimumKDF()
	v.Now = clk.Now
	now = clk.Now
	t.Cleanup(func() { now = time.Now })
	f := &fixture{t: t, v: v, clk: clk, secrets: map[string]string{}}
	enr, err := app.NewEnrollment(practice, adminName)
	if err != nil {
		t.Fatal(err)
	}
	if !enr.Confirm(f.code(enr.Secret()), clk.Now()) {
		t.Fatal("enrollment refused its own code")
	}
	created, err := v.Create(context.Background(), practice, adminName, adminPass, enr)
	if err != nil {
		t.Fatal(err)
	}
	f.secrets[adminName] = enr.Secret()
	f.recovery = created.RecoveryKey
	f.admin = f.signIn(adminName, adminPass)
	return f
}

// code is the authenticator code for secret now.
func (f *fixture) code(secret string) string {
	f.t.Helper()
	c, err := totp.GenerateCode(secret, f.clk.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// signIn moves to a fresh TOTP step (a step is never accepted twice) and
// signs in.
func (f *fixture) signIn(name, pass string) *app.Session {
	f.t.Helper()
	f.clk.Add(30 * time.Second)
	s, err := f.v.SignIn(context.Background(), name, pass, f.code(f.secrets[name]))
	if err != nil {
		f.t.Fatalf("sign in %s: %v", name, err)
	}
	f.t.Cleanup(func() { s.Lock(context.Background()) })
	return s
}

// addUser adds a member of staff as the admin.
func (f *fixture) addUser(name string, role app.Role, pass string) {
	f.t.Helper()
	enr, err := app.NewEnrollment(practice, name)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.admin.AddUser(context.Background(), name, role, pass, enr); err != nil {
		f.t.Fatalf("add %s: %v", name, err)
	}
	f.secrets[name] = enr.Secret()
}

// testTheme is ClinicVault's theme (teal primary, readable status
// colours) in the light variant, so screenshots match the app's.
type testTheme struct {
	fyne.Theme
	dark bool
}

func (t testTheme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	if t.dark {
		switch n {
		case theme.ColorNamePrimary:
			return color.NRGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0xff}
		case theme.ColorNameForegroundOnPrimary:
			return color.White
		case theme.ColorNameSuccess:
			return color.NRGBA{R: 0x4a, G: 0xde, B: 0x80, A: 0xff}
		}
		return t.Theme.Color(n, theme.VariantDark)
	}
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

// newWindow opens a headless window that frames screen as the shell
// does: the practice's name on top and the navigation on the left.
func newWindow(t *testing.T) fyne.Window {
	t.Helper()
	a := test.NewTempApp(t)
	a.Settings().SetTheme(testTheme{Theme: theme.DefaultTheme()})
	w := a.NewWindow("ClinicVault")
	w.SetPadded(true)
	w.Resize(fyne.NewSize(1000, 700))
	t.Cleanup(func() {
		settle(t)
		w.Close()
	})
	return w
}

// frame is the shell around a screen, for screenshots.
func frame(s *app.Session, current string, screen fyne.CanvasObject) fyne.CanvasObject {
	name := widget.NewLabelWithStyle(practice, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.SizeName = theme.SizeNameSubHeadingText
	u := s.User()
	who := widget.NewLabel("Signed in as " + u.Name + " (" + string(u.Role) + ")")
	top := container.NewVBox(container.NewBorder(nil, nil, name, container.NewHBox(who, widget.NewButtonWithIcon("Lock", theme.LogoutIcon(), nil))),
		widget.NewSeparator())
	items := []string{"Home", "Backups", "Training", "My account"}
	if u.Role == app.Admin {
		items = []string{"Home", "Users", "Security Center", "Backups", "Training", "Emergency review", "Access review", "Audit log", "My account"}
	}
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
	w.SetContent(frame(s, current, screen))
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
func waitFor(t *testing.T, done func() bool) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for !done() {
		select {
		case f := <-queue:
			f()
		case <-timeout:
			t.Fatal("timed out waiting for the UI")
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
	settle(t)
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

// scrollDown lays the window out as the desktop driver would, then
// scrolls o (a page) to its end.
func scrollDown(w fyne.Window, o fyne.CanvasObject) {
	w.Resize(fyne.NewSize(1000, 700))
	for range 3 {
		for _, r := range roots(w) {
			relayout(r)
		}
	}
	o.(*container.Scroll).ScrollToBottom()
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

// button finds the visible button labelled text.
func button(t *testing.T, w fyne.Window, text string) *widget.Button {
	t.Helper()
	b := findButton(w, text)
	if b == nil {
		t.Fatalf("no button %q", text)
	}
	return b
}

// tap taps the button labelled text, which must be enabled, and settles.
func tap(t *testing.T, w fyne.Window, text string) {
	t.Helper()
	b := button(t, w, text)
	if b.Disabled() {
		t.Fatalf("button %q is disabled", text)
	}
	test.Tap(b)
	settle(t)
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
	for _, r := range s {
		e.TypedRune(r)
	}
}
