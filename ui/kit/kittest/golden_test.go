package kittest

import (
	"image"
	"image/color"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2/test"
)

// TestCompareTolerates: a small change of shade is the same pixel, a
// larger one differs, and images of different sizes do not compare.
func TestCompareTolerates(t *testing.T) {
	grey := func(w, h int) *image.NRGBA {
		img := image.NewNRGBA(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			img.Pix[i] = 0x80
		}
		return img
	}
	want, got := grey(100, 100), grey(100, 100)
	got.SetNRGBA(1, 1, color.NRGBA{R: 0x80 + goldenChannel, G: 0x80, B: 0x80, A: 0x80})
	if _, n, total := compare(want, got); n != 0 || total != 10000 {
		t.Errorf("a shade within the tolerance: %d of %d differ", n, total)
	}
	got.SetNRGBA(2, 2, color.NRGBA{R: 0x80 + goldenChannel + 1, G: 0x80, B: 0x80, A: 0x80})
	diff, n, _ := compare(want, got)
	if n != 1 || diff.NRGBAAt(2, 2) != (color.NRGBA{R: 0xff, A: 0xff}) {
		t.Errorf("a shade beyond the tolerance: %d differ, drawn %v", n, diff.NRGBAAt(2, 2))
	}
	if diff, _, _ := compare(want, grey(100, 99)); diff != nil {
		t.Error("images of different sizes compared")
	}
}

// macOS screens name shortcuts with ⌘, so their golden images are kept
// apart from those of Linux and Windows.
func TestGoldenPathPerSystem(t *testing.T) {
	for goos, want := range map[string]string{
		"linux":   "testdata/golden/home.png",
		"windows": "testdata/golden/home.png",
		"darwin":  "testdata/golden/darwin/home.png",
	} {
		if got := filepath.ToSlash(goldenPath(goos, "home")); got != want {
			t.Errorf("goldenPath(%s) = %s, want %s", goos, got, want)
		}
	}
}

// A golden image must not depend on the machine's fonts: characters the
// theme's font lacks (drawn with whatever the machine has, or as boxes)
// are drawn as "?"; accented Latin letters, which it has, stay.
func TestThemeDrawable(t *testing.T) {
	test.NewTempApp(t)
	for in, want := range map[string]string{
		"佐藤, 太郎 · Booked":     "??, ?? · Booked",
		"Núñez, José Ødegård": "Núñez, José Ødegård",
		"Trần, Thảo":          "Trần, Thảo",
	} {
		if got := themeDrawable(in); got != want {
			t.Errorf("themeDrawable(%q) = %q, want %q", in, got, want)
		}
	}
}
