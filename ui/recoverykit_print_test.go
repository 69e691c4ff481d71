package ui

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/test"

	"github.com/clinicvault/clinicvault/ui/kit/kittest"
)

// shotAt saves the window at the size it has (see kittest.ShotAsIs).
func shotAt(t *testing.T, g *gui, name string) {
	t.Helper()
	kittest.ShotAsIs(t, g.win, name)
}

// TestRecoveryKitPrint (issue #16, item 10): once the recovery kit is
// saved, the wizard offers Print…, which opens exactly the saved file in
// the system's viewer (file:// URL), and writes no other copy of it.
func TestRecoveryKitPrint(t *testing.T) {
	for _, size := range []fyne.Size{{Width: 1366, Height: 768}, {Width: 1024, Height: 700}} {
		v, clk := newTestVault(t)
		g := newTestGUI(t, v)
		g.win.Resize(size)
		w := g.wizard
		typeIn(g, w.practice, "Riverside Family Practice")
		typeIn(g, w.admin, "Dana Whitfield")
		pressEnter(t, g, w.admin)
		typeIn(g, w.pair.pass, adminPass)
		typeIn(g, w.pair.confirm, adminPass)
		tap(t, g, "Next")
		typeIn(g, w.panel.code, code(t, w.enr.Secret(), clk))
		pressEnter(t, g, w.panel.code)
		settle(t, g)
		if w.step != stepRecoveryKey {
			t.Fatalf("step %d, want the recovery key; status %q", w.step, w.status.Text)
		}
		if kittest.FindButton(g.win, "Print…") != nil {
			t.Fatal("Print… is offered before the kit is saved")
		}
		var opened []*url.URL
		w.openURL = func(u *url.URL) error {
			opened = append(opened, u)
			return nil
		}

		// The person saves the kit where they choose (a name with a space
		// and a #, which a URL must escape).
		dir := t.TempDir()
		path := filepath.Join(dir, "Dana's kit #1.pdf")
		wc, err := storage.Writer(storage.NewFileURI(path))
		if err != nil {
			t.Fatal(err)
		}
		w.kitChosen(wc, nil)
		settle(t, g)
		if pdf, err := os.ReadFile(path); err != nil || !bytes.HasPrefix(pdf, []byte("%PDF")) {
			t.Fatalf("the kit was not saved: %v", err)
		}
		print := button(t, g, "Print…")
		if !showsText(g, "Print… opens it in your PDF viewer") {
			t.Error("the note does not say what Print… does")
		}
		shotAt(t, g, "wizard-4-recovery-key-print")
		test.Tap(print)
		settle(t, g)
		if len(opened) != 1 {
			t.Fatalf("Print… opened %d URLs", len(opened))
		}
		u := opened[0]
		if u.Scheme != "file" || u.Path != filepath.ToSlash(path) || u.String() != "file://"+filepath.ToSlash(filepath.Dir(path))+"/Dana%27s%20kit%20%231.pdf" {
			t.Errorf("Print… opened %s, want the saved file %s", u, path)
		}
		// No other copy of the kit: the folder holds the saved file only,
		// and nothing else was opened.
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("the kit's folder holds %d files", len(entries))
		}
		if len(g.dialogs) != 0 {
			t.Error("opening the kit showed a dialog (an error?)")
		}
	}
}
