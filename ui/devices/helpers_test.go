package devices

import (
	"context"
	"os"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit/kittest"
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
	kittest.CaptureUI()
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

// machine is one computer: a vault folder and its clock.
type machine struct {
	t   *testing.T
	v   *app.Vault
	clk *kittest.Clock
}

// newMachine is an empty data folder with fast key derivation and a
// clock the test controls.
func newMachine(t *testing.T, name string, clk *kittest.Clock) *machine {
	t.Helper()
	return &machine{t: t, v: kittest.NewVault(t, name, clk), clk: clk}
}

// practiceFixture is the first computer's vault with its admin.
type practiceFixture struct {
	t       *testing.T
	clk     *kittest.Clock
	a       *machine
	secrets map[string]string
}

// newPractice creates a vault with an admin on a first computer. The
// package's clock is the test's.
func newPractice(t *testing.T) *practiceFixture {
	t.Helper()
	clk := kittest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.Local))
	now = clk.Now
	t.Cleanup(func() { now = time.Now })
	f := &practiceFixture{t: t, clk: clk, a: newMachine(t, "a", clk), secrets: map[string]string{}}
	f.secrets[adminName], _ = kittest.CreateVault(t, f.a.v, clk, practice, adminName, adminPass)
	return f
}

// signIn moves m's clock to a fresh TOTP step (a step is never accepted
// twice) and signs name in on m.
func (f *practiceFixture) signIn(m *machine, name, pass string) *app.Session {
	f.t.Helper()
	return kittest.SignIn(f.t, m.v, m.clk, name, pass, f.secrets[name])
}

// addUser adds a member of staff through admin.
func (f *practiceFixture) addUser(admin *app.Session, name string, role app.Role, pass string) {
	f.t.Helper()
	f.secrets[name] = kittest.AddUser(f.t, admin, practice, name, role, pass)
}

// pairDirect pairs a new computer through app, without the screens.
func (f *practiceFixture) pairDirect(admin *app.Session, dir, name string, clk *kittest.Clock) *machine {
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

// newApp starts a headless test app in ClinicVault's light theme; it
// settles when the test ends.
func newApp(t *testing.T) fyne.App {
	t.Helper()
	a := kittest.NewApp(t)
	t.Cleanup(func() { kittest.Settle(t) })
	return a
}

// newWindow opens a headless window, closed when the test ends.
func newWindow(t *testing.T, a fyne.App, title string) fyne.Window {
	t.Helper()
	w := kittest.NewWindow(a, title)
	t.Cleanup(w.Close)
	return w
}

// show puts screen in w inside the shell's frame: the practice's name on
// top and the navigation on the left.
func show(w fyne.Window, s *app.Session, current string, screen fyne.CanvasObject) {
	items := []string{"Today", "Patients", "Home", "Sync", "Computers", "My account"}
	u := s.User()
	w.SetContent(kittest.Frame(practice, u.Name+" ("+string(u.Role)+")", items, current, screen))
	w.Resize(fyne.NewSize(1000, 700))
}

// buttons finds every visible button labelled text in the topmost layer
// that has one, in drawing order.
func buttons(w fyne.Window, text string) []*widget.Button {
	for _, r := range kittest.Roots(w) {
		var found []*widget.Button
		kittest.Walk(r, func(o fyne.CanvasObject) bool {
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

// mustShow fails unless a visible label in w contains s.
func mustShow(t *testing.T, w fyne.Window, s string) {
	t.Helper()
	if !kittest.ShowsText(w, s) {
		t.Fatalf("the window does not show %q", s)
	}
}
