package kit

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"github.com/clinicvault/clinicvault/app"
)

func TestSentence(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"  ":               "",
		"the folder moved": "The folder moved.",
		"done!":            "Done!",
		"really?":          "Really?",
		" élan vital. ":    "Élan vital.",
	} {
		if got := Sentence(in); got != want {
			t.Errorf("Sentence(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPluralDayAgo(t *testing.T) {
	if got := Plural(1, "lesson"); got != "1 lesson" {
		t.Errorf("Plural(1) = %q", got)
	}
	if got := Plural(3, "minute"); got != "3 minutes" {
		t.Errorf("Plural(3) = %q", got)
	}
	if got := Day(time.Time{}); got != "never" {
		t.Errorf("Day(zero) = %q", got)
	}
	at := time.Date(2026, 3, 2, 12, 0, 0, 0, time.Local)
	if got := Day(at); got != "2 Mar 2026" {
		t.Errorf("Day = %q", got)
	}
	for d, want := range map[time.Duration]string{
		30 * time.Second:    "just now",
		5 * time.Minute:     "5 minutes ago",
		time.Hour:           "1 hour ago",
		50 * time.Hour:      "2 days ago",
		40 * 24 * time.Hour: "40 days ago",
	} {
		if got := Ago(at, at.Add(d)); got != want {
			t.Errorf("Ago(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestPostAndBackground(t *testing.T) {
	ui := QueueUI(8)
	defer func() { queue = nil }()
	ran := false
	Background(func() {}, func() { ran = true })
	select {
	case f := <-ui:
		if Pending() != 1 {
			t.Errorf("Pending = %d before done ran", Pending())
		}
		f()
	case <-time.After(5 * time.Second):
		t.Fatal("done was not posted")
	}
	if !ran || Pending() != 0 {
		t.Errorf("ran %v, Pending %d", ran, Pending())
	}
}

func TestLayouts(t *testing.T) {
	a, b := canvas.NewRectangle(nil), canvas.NewRectangle(nil)
	a.SetMinSize(fyne.NewSize(10, 20))
	b.SetMinSize(fyne.NewSize(30, 5))
	objs := []fyne.CanvasObject{a, b}

	if got := FixedWidth(200).MinSize(objs); got != fyne.NewSize(200, 20) {
		t.Errorf("FixedWidth.MinSize = %v", got)
	}
	if got := TightVBox(-4).MinSize(objs); got != fyne.NewSize(30, 21) {
		t.Errorf("TightVBox.MinSize = %v", got)
	}
	cols := Columns{1, 3}
	if got := cols.MinSize(objs); got != fyne.NewSize(40, 20) {
		t.Errorf("Columns.MinSize = %v", got)
	}
	cols.Layout(objs, fyne.NewSize(400, 50))
	if a.Size() != fyne.NewSize(100, 50) || b.Position() != fyne.NewPos(100, 0) || b.Size() != fyne.NewSize(300, 50) {
		t.Errorf("Columns.Layout: %v at %v, %v at %v", a.Size(), a.Position(), b.Size(), b.Position())
	}
}

func TestStatusAndNotice(t *testing.T) {
	test.NewTempApp(t)
	s := NewStatus(widget.MediumImportance)
	if s.Visible() {
		t.Error("a new status line is shown")
	}
	s.Say(widget.DangerImportance, "Nothing was saved.")
	if !s.Visible() || s.Text != "Nothing was saved." || s.Importance != widget.DangerImportance {
		t.Errorf("after Say: visible %v, %q, %v", s.Visible(), s.Text, s.Importance)
	}
	s.Say(widget.MediumImportance, "")
	if s.Visible() {
		t.Error("an empty status line is shown")
	}

	n := NewNotice(ToneInfo, "Loading…", "")
	test.WidgetRenderer(n)
	if n.text.Visible() || !n.title.Visible() {
		t.Error("an empty text takes room, or the title is hidden")
	}
	n.Set(ToneDanger, "Backups are not set up", "Choose a folder.")
	if n.Tone() != ToneDanger || n.Title() != "Backups are not set up" || n.Text() != "Choose a folder." || !n.text.Visible() {
		t.Errorf("after Set: %v %q %q", n.Tone(), n.Title(), n.Text())
	}
}

// TestFileDialogsWriteNewPrivateFilesNeverThroughALink: the file dialogs
// write through Fyne's storage; with SafeFiles, what they write is 0600,
// replaces a chosen file as a whole, and is refused at a symbolic link —
// without it, Fyne creates the file with the umask's mode, through any
// link, including one to a place that does not exist yet.
func TestFileDialogsWriteNewPrivateFilesNeverThroughALink(t *testing.T) {
	test.NewTempApp(t)
	SafeFiles(app.NewReplacement)
	dir := t.TempDir()
	write := func(p, body string) error {
		w, err := storage.Writer(storage.NewFileURI(p))
		if err != nil {
			return err
		}
		if _, err := w.Write([]byte(body)); err != nil {
			return err
		}
		return w.Close()
	}
	p := filepath.Join(dir, "visit.pdf")
	os.WriteFile(p, []byte("an older summary"), 0o644)
	if err := write(p, "summary"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "summary" {
		t.Errorf("file holds %q", b)
	}
	if fi, _ := os.Stat(p); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	if runtime.GOOS == "windows" {
		return
	}
	drop := filepath.Join(dir, "shared", "patients.csv")
	os.MkdirAll(filepath.Dir(drop), 0o777)
	link := filepath.Join(dir, "export.csv")
	os.Symlink(drop, link)
	if err := write(link, "Silva, Ana"); !errors.Is(err, app.ErrLinkNotFollowed) {
		t.Errorf("writing at a link: %v, want ErrLinkNotFollowed", err)
	}
	if _, err := os.Stat(drop); err == nil {
		t.Error("the export went where the link points")
	}
}
