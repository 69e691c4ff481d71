package kit

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// dialogShows reports whether a dialog shown on w has a label s (a file
// dialog names its files without their extension).
func dialogShows(w fyne.Window, s string) bool {
	found := false
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if found || o == nil || !o.Visible() {
			return
		}
		if l, ok := o.(*widget.Label); ok && l.Text == s {
			found = true
			return
		}
		if wid, ok := o.(fyne.Widget); ok {
			for _, c := range test.WidgetRenderer(wid).Objects() {
				walk(c)
			}
		} else if c, ok := o.(*fyne.Container); ok {
			for _, c := range c.Objects {
				walk(c)
			}
		}
	}
	for _, o := range w.Canvas().Overlays().List() {
		walk(o)
	}
	return found
}

// A file dialog opens in the folder it is given when that exists, else
// in the user's Documents folder, else in the home folder.
func TestFileDialogsStartInDocuments(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Windows asks the system for its Documents folder")
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	docs := filepath.Join(home, "Documents")
	os.Mkdir(docs, 0o700)
	os.WriteFile(filepath.Join(docs, "in-documents.csv"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(home, "in-home.csv"), []byte("x"), 0o600)
	given := filepath.Join(home, "Backups")
	os.Mkdir(given, 0o700)
	os.WriteFile(filepath.Join(given, "in-backups.csv"), []byte("x"), 0o600)

	a := test.NewTempApp(t)
	open := func(start string) fyne.Window {
		w := a.NewWindow("dialogs")
		w.Resize(fyne.NewSize(1024, 700))
		d := dialog.NewFileOpen(func(fyne.URIReadCloser, error) {}, w)
		StartIn(d, start)
		d.Resize(fyne.NewSize(900, 620))
		d.Show()
		return w
	}
	for _, c := range []struct {
		start, want string
	}{
		{"", "in-documents"},
		{filepath.Join(home, "missing"), "in-documents"},
		{given, "in-backups"},
	} {
		w := open(c.start)
		if !dialogShows(w, c.want) {
			t.Errorf("start %q: the dialog does not show %s", c.start, c.want)
		}
		w.Close()
	}
	os.RemoveAll(docs)
	w := open("")
	if !dialogShows(w, "in-home") {
		t.Error("without Documents the dialog does not open in the home folder")
	}
}
