package kittest

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

// Shooting reports whether screenshots are wanted:
// CLINICVAULT_SCREENSHOTS=1.
func Shooting() bool { return os.Getenv("CLINICVAULT_SCREENSHOTS") == "1" }

// Shot saves the window, laid out as the desktop driver would, to
// testdata/screens/NAME.png when Shooting. It does not settle first, so
// it can show work in progress.
func Shot(t testing.TB, w fyne.Window, name string) {
	t.Helper()
	if !Shooting() {
		return
	}
	LayOut(w)
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

// LayOut resizes w to 1000×700 and lays out everything in it again, as
// the desktop driver would: it lays out again, every frame, whatever
// changed its minimum size; the test canvas does not.
func LayOut(w fyne.Window) {
	w.Resize(fyne.NewSize(1000, 700))
	for range 3 {
		for _, r := range Roots(w) {
			Relayout(r)
		}
	}
}

// Relayout lays out o and everything visible inside it again at their
// sizes.
func Relayout(o fyne.CanvasObject) {
	if o == nil || !o.Visible() {
		return
	}
	switch x := o.(type) {
	case *fyne.Container:
		if x.Layout != nil {
			x.Layout.Layout(x.Objects, x.Size())
		}
		for _, c := range x.Objects {
			Relayout(c)
		}
	case fyne.Widget:
		r := test.WidgetRenderer(x)
		r.Layout(x.Size())
		for _, c := range r.Objects() {
			Relayout(c)
		}
	}
}
