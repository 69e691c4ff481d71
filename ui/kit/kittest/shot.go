package kittest

import (
	"fmt"
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
	write(t, w, name)
}

// ShotSizes writes w at 1366×768 and at 1024×700 to
// testdata/screens/NAME-1366.png and NAME-1024.png, then lays w out at
// 1000×700 again.
func ShotSizes(t testing.TB, w fyne.Window, name string) {
	t.Helper()
	if !Shooting() {
		return
	}
	for _, sz := range []struct {
		suffix string
		size   fyne.Size
	}{{"1366", fyne.NewSize(1366, 768)}, {"1024", fyne.NewSize(1024, 700)}} {
		layOutAt(w, sz.size)
		write(t, w, name+"-"+sz.suffix)
	}
	LayOut(w)
}

// ShotAsIs writes w at the size it has now to NAME-WxH.png (Shot makes
// every window 1000×700 first).
func ShotAsIs(t testing.TB, w fyne.Window, name string) {
	t.Helper()
	if !Shooting() {
		return
	}
	size := w.Canvas().Size()
	layOutAt(w, size)
	write(t, w, fmt.Sprintf("%s-%dx%d", name, int(size.Width), int(size.Height)))
}

func write(t testing.TB, w fyne.Window, name string) {
	t.Helper()
	dir := filepath.Join("testdata", "screens")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writePNG(t, filepath.Join(dir, name+".png"), w.Canvas().Capture())
}

// LayOut resizes w to 1000×700 and lays out everything in it again, as
// the desktop driver would: it lays out again, every frame, whatever
// changed its minimum size; the test canvas does not.
func LayOut(w fyne.Window) { layOutAt(w, fyne.NewSize(1000, 700)) }

func layOutAt(w fyne.Window, size fyne.Size) {
	w.Resize(size)
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
