package admin

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/storage"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit/kittest"
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
	kittest.CaptureUI()
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

// fixture is a real vault with its clock and everyone's TOTP secrets.
type fixture struct {
	t        *testing.T
	v        *app.Vault
	clk      *kittest.Clock
	secrets  map[string]string
	recovery string
	admin    *app.Session
}

// newFixture creates a vault with an admin and signs the admin in.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	clk := kittest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	v := kittest.NewVault(t, "v", clk)
	now = clk.Now
	t.Cleanup(func() { now = time.Now })
	f := &fixture{t: t, v: v, clk: clk, secrets: map[string]string{}}
	f.secrets[adminName], f.recovery = kittest.CreateVault(t, v, clk, practice, adminName, adminPass)
	f.admin = f.signIn(adminName, adminPass)
	return f
}

// code is the authenticator code for secret now.
func (f *fixture) code(secret string) string {
	f.t.Helper()
	return kittest.Code(f.t, secret, f.clk.Now())
}

// signIn moves to a fresh TOTP step (a step is never accepted twice) and
// signs in.
func (f *fixture) signIn(name, pass string) *app.Session {
	f.t.Helper()
	return kittest.SignIn(f.t, f.v, f.clk, name, pass, f.secrets[name])
}

// addUser adds a member of staff as the admin.
func (f *fixture) addUser(name string, role app.Role, pass string) {
	f.t.Helper()
	f.secrets[name] = kittest.AddUser(f.t, f.admin, practice, name, role, pass)
}

// newWindow opens a headless window in ClinicVault's light theme; it
// settles, then closes, when the test ends.
func newWindow(t *testing.T) fyne.Window {
	t.Helper()
	w := kittest.NewWindow(kittest.NewApp(t), "ClinicVault")
	t.Cleanup(func() {
		kittest.Settle(t)
		w.Close()
	})
	return w
}

// show puts screen in w inside the shell's frame: the practice's name on
// top and the navigation (an admin's or staff's) on the left.
func show(w fyne.Window, s *app.Session, current string, screen fyne.CanvasObject) {
	u := s.User()
	items := []string{"Home", "Backups", "Training", "My account"}
	if u.Role == app.Admin {
		items = []string{"Home", "Staff", "Security Center", "Backups", "Training", "Emergency review", "Access review", "Audit log", "My account"}
	}
	w.SetContent(kittest.Frame(practice, u.Name+" ("+string(u.Role)+")", items, current, screen))
	w.Resize(fyne.NewSize(1000, 700))
}

// shot settles, then saves the window to testdata/screens/NAME.png when
// CLINICVAULT_SCREENSHOTS=1.
func shot(t *testing.T, w fyne.Window, name string) {
	t.Helper()
	if kittest.Shooting() {
		kittest.Settle(t)
	}
	kittest.Shot(t, w, name)
}

// golden settles, then compares w with its golden image,
// testdata/golden/NAME.png (see kittest.Golden).
func golden(t *testing.T, w fyne.Window, name string) {
	t.Helper()
	kittest.Settle(t)
	kittest.Golden(t, w, name)
}

// scrollDown lays the window out as the desktop driver would, then
// scrolls o (a page) to its end.
func scrollDown(w fyne.Window, o fyne.CanvasObject) {
	kittest.LayOut(w)
	o.(*container.Scroll).ScrollToBottom()
}
