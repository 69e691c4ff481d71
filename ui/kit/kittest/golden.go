package kittest

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"github.com/go-text/typesetting/font"
)

// Golden images: a few important screens are kept under
// testdata/golden and compared with the window on every test run, so a
// layout regression fails a test. Fyne's test driver draws in software,
// the same on every machine; the tolerances only absorb a rounding step
// in anti-aliasing.
const (
	// goldenChannel is the largest difference, out of 255, in any
	// channel of a pixel that still counts as the same.
	goldenChannel = 24
	// goldenFraction is the largest fraction of pixels that may differ:
	// about 70 pixels of a 1000×700 window, less than one word of text
	// moving.
	goldenFraction = 0.0001
)

// UpdatingGolden reports whether golden images are to be written instead
// of compared: CLINICVAULT_UPDATE_GOLDEN=1.
func UpdatingGolden() bool { return os.Getenv("CLINICVAULT_UPDATE_GOLDEN") == "1" }

// Golden lays w out at 1000×700, as Shot does, and compares it with
// testdata/golden/NAME.png (on macOS testdata/golden/darwin/NAME.png,
// and only where that exists), failing the test when they differ; with
// CLINICVAULT_UPDATE_GOLDEN=1 it writes that file instead. On a failure
// it writes what the window shows and a picture of the differences (the
// golden image faded, differing pixels in red) to a temporary folder and
// names them.
//
// Each of scrub, a value the test cannot fix (a random MRN), is replaced
// by as many X in every visible label while the window is captured, so
// that the image does not depend on it.
func Golden(t testing.TB, w fyne.Window, name string, scrub ...string) {
	t.Helper()
	LayOut(w)
	got := capture(w, scrub)
	path := goldenPath(runtime.GOOS, name)
	if UpdatingGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		writePNG(t, path, got)
		return
	}
	want, err := readPNG(path)
	if errors.Is(err, fs.ErrNotExist) && path != goldenPath("linux", name) {
		t.Logf("screen %s not compared: no golden image %s for this system yet (CLINICVAULT_UPDATE_GOLDEN=1 writes it; look at it before committing)", name, path)
		return
	}
	if err != nil {
		t.Fatalf("golden image %s: %v (CLINICVAULT_UPDATE_GOLDEN=1 writes it)", path, err)
	}
	diff, n, total := compare(want, got)
	if diff != nil && float64(n) <= goldenFraction*float64(total) {
		return
	}
	dir, err := os.MkdirTemp("", "clinicvault-golden-")
	if err != nil {
		t.Fatal(err)
	}
	gotPath, diffPath := filepath.Join(dir, name+"-got.png"), filepath.Join(dir, name+"-diff.png")
	writePNG(t, gotPath, got)
	if diff == nil {
		t.Fatalf("screen %s is %v, its golden image %s is %v; the screen is in %s (CLINICVAULT_UPDATE_GOLDEN=1 accepts it)",
			name, got.Bounds().Size(), path, want.Bounds().Size(), gotPath)
	}
	writePNG(t, diffPath, diff)
	t.Fatalf("screen %s differs from %s in %d of %d pixels (%.3f%%, %.3f%% allowed): see %s and %s (CLINICVAULT_UPDATE_GOLDEN=1 accepts it)",
		name, path, n, total, 100*float64(n)/float64(total), 100*goldenFraction, diffPath, gotPath)
}

// goldenPath is where the golden image NAME of goos is: testdata/golden
// for Linux and Windows, testdata/golden/darwin on macOS, where the
// screens name shortcuts with ⌘ instead of Ctrl+ (kit.ShortcutLabel).
func goldenPath(goos, name string) string {
	if goos == "darwin" || goos == "ios" {
		return filepath.Join("testdata", "golden", "darwin", name+".png")
	}
	return filepath.Join("testdata", "golden", name+".png")
}

// capture is the window's image with each of scrub replaced by X's in
// the labels, and every character the theme's own font lacks drawn as
// "?": such a character is drawn with whatever font the machine has
// installed (a Japanese name in tofu boxes on one machine, in a CJK font
// on another), so a golden image would depend on the machine.
func capture(w fyne.Window, scrub []string) image.Image {
	var undo []func()
	for _, r := range Roots(w) {
		Walk(r, func(o fyne.CanvasObject) bool {
			switch x := o.(type) {
			case *widget.Label:
				text := x.Text
				for _, s := range scrub {
					if s != "" {
						text = strings.ReplaceAll(text, s, strings.Repeat("X", len([]rune(s))))
					}
				}
				text = themeDrawable(text)
				if text != x.Text {
					old := x.Text
					undo = append(undo, func() { x.SetText(old) })
					x.SetText(text)
				}
			case *canvas.Text:
				if text := themeDrawable(x.Text); text != x.Text {
					old := x.Text
					undo = append(undo, func() { x.Text = old; x.Refresh() })
					x.Text = text
					x.Refresh()
				}
			}
			return false
		})
	}
	img := w.Canvas().Capture()
	for i := len(undo) - 1; i >= 0; i-- {
		undo[i]()
	}
	return img
}

var (
	themeFontOnce sync.Once
	themeFont     *font.Face
)

// themeDrawable is text with each character the theme's text font has
// no glyph for replaced by "?".
func themeDrawable(text string) string {
	themeFontOnce.Do(func() {
		themeFont, _ = font.ParseTTF(bytes.NewReader(theme.TextFont().Content()))
	})
	if themeFont == nil {
		return text
	}
	return strings.Map(func(r rune) rune {
		if r < 0x80 || unicode.IsSpace(r) {
			return r
		}
		if _, ok := themeFont.NominalGlyph(r); !ok {
			return '?'
		}
		return r
	}, text)
}

// compare counts the pixels of got that differ from want by more than
// goldenChannel in a channel, and draws them; the picture is nil when the
// sizes differ.
func compare(want, got image.Image) (diff *image.NRGBA, n, total int) {
	b := want.Bounds()
	if b.Size() != got.Bounds().Size() {
		return nil, 0, 0
	}
	gb := got.Bounds()
	diff = image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			w := color.NRGBAModel.Convert(want.At(b.Min.X+x, b.Min.Y+y)).(color.NRGBA)
			g := color.NRGBAModel.Convert(got.At(gb.Min.X+x, gb.Min.Y+y)).(color.NRGBA)
			if far(w.R, g.R) || far(w.G, g.G) || far(w.B, g.B) || far(w.A, g.A) {
				n++
				diff.SetNRGBA(x, y, color.NRGBA{R: 0xff, A: 0xff})
				continue
			}
			// Faded: a light grey of the golden pixel's brightness.
			l := uint8((uint32(w.R) + uint32(w.G) + uint32(w.B)) / 3)
			diff.SetNRGBA(x, y, color.NRGBA{R: 192 + l/4, G: 192 + l/4, B: 192 + l/4, A: 0xff})
		}
	}
	return diff, n, b.Dx() * b.Dy()
}

func far(a, b uint8) bool {
	if a > b {
		return a-b > goldenChannel
	}
	return b-a > goldenChannel
}

func readPNG(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return png.Decode(f)
}

func writePNG(t testing.TB, path string, img image.Image) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
