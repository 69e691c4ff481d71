package ui

import (
	"errors"
	"math"
	"runtime"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/winplace"
)

// The window's sizes, in Fyne's units: it opens at defaultWindowSize the
// first time, and a remembered size is kept between minWindowSize (the
// smallest the screens are designed for) and maxWindowSide a side.
var (
	defaultWindowSize = fyne.NewSize(1024, 700)
	minWindowSize     = fyne.NewSize(1024, 700)
)

const maxWindowSide = 4096

// raiseWithin bounds how long a second start's request waits for the
// window to come forward: the second start gives up after 2 seconds.
const raiseWithin = 1500 * time.Millisecond

// clampWindowSize keeps a remembered size within the window's bounds; a
// size that is not a number is the default.
func clampWindowSize(s fyne.Size) fyne.Size {
	side := func(v, min float32) float32 {
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return -1
		}
		return float32(math.Min(math.Max(f, float64(min)), maxWindowSide))
	}
	w, h := side(s.Width, minWindowSize.Width), side(s.Height, minWindowSize.Height)
	if w < 0 || h < 0 {
		return defaultWindowSize
	}
	return fyne.NewSize(w, h)
}

// restoreWindow sizes the window as it was when it last closed on this
// data folder, and remembers where it was for placeWindow; from now on
// the window's place is saved when it closes.
func (g *gui) restoreWindow() {
	g.rememberPlace = true
	p, err := g.v.WindowPlace()
	if err != nil {
		if !errors.Is(err, app.ErrNotFound) {
			fyne.LogError("window place", err) // a damaged file: the default size
		}
		return
	}
	size := clampWindowSize(fyne.NewSize(p.Width, p.Height))
	p.Width, p.Height = size.Width, size.Height
	g.place = p
	g.win.Resize(size)
}

// placeWindow puts the shown window where it was, maximised if it was,
// where the system lets ClinicVault do that (Windows); the window stays
// centred otherwise, or when that place is on no screen now. Run it on
// the UI thread once the window shows.
func (g *gui) placeWindow() {
	if !g.place.Placed {
		return
	}
	if h := g.nativeHandle(); h != 0 {
		winplace.Set(h, winplace.Placement{X: g.place.X, Y: g.place.Y, Maximized: g.place.Maximized})
	}
}

// saveWindow writes the window's size, and its place where the system
// tells it, to the data folder, once, when restoreWindow asked for that.
// A maximised window keeps the size it had before it was maximised. Run
// it while the window exists (it closes).
func (g *gui) saveWindow() {
	g.saveWindowAs(g.nativeHandle())
}

// saveWindowStopped is saveWindow for an app that stopped without its
// window being closed (ended by SIGTERM or Ctrl+C): the system's window is
// gone, so the place is the one the window opened with.
func (g *gui) saveWindowStopped() {
	g.saveWindowAs(0)
}

func (g *gui) saveWindowAs(handle uintptr) {
	if !g.rememberPlace {
		return
	}
	g.rememberPlace = false // the first save counts
	size := g.win.Canvas().Size()
	p := g.place
	p.Width, p.Height = size.Width, size.Height
	if handle != 0 {
		if pl, ok := winplace.Get(handle); ok {
			p.Placed, p.X, p.Y, p.Maximized = true, pl.X, pl.Y, pl.Maximized
		}
	}
	if p.Maximized {
		p.Width, p.Height = g.place.Width, g.place.Height
		if p.Width == 0 || p.Height == 0 {
			p.Width, p.Height = defaultWindowSize.Width, defaultWindowSize.Height
		}
	}
	if err := g.v.SaveWindowPlace(p); err != nil {
		fyne.LogError("window place", err)
	}
}

// nativeHandle is the window's Windows handle, or 0 (other systems, tests).
// Only on Windows is the system's window asked (elsewhere Fyne's
// RunNative reaches the system's window even after it is gone, and
// panics).
func (g *gui) nativeHandle() uintptr {
	if runtime.GOOS != "windows" {
		return 0
	}
	var h uintptr
	if nw, ok := g.win.(driver.NativeWindow); ok {
		nw.RunNative(func(ctx any) {
			if w, ok := ctx.(driver.WindowsWindowContext); ok {
				h = w.HWND
			}
		})
	}
	return h
}

// raise brings the window forward for a second start of ClinicVault on
// the same data folder: shown, back from the taskbar, and focused. Run it
// on the UI thread.
func (g *gui) raise() {
	g.win.Show()
	winplace.Unminimize(g.nativeHandle())
	g.win.RequestFocus()
}

// raiseFromElsewhere runs raise on the UI thread for another goroutine
// and returns once it ran, or after raiseWithin, or once the window
// closed.
func (g *gui) raiseFromElsewhere() {
	if g.ctx.Err() != nil {
		return
	}
	done := make(chan struct{})
	g.post(func() {
		g.raise()
		close(done)
	})
	select {
	case <-done:
	case <-time.After(raiseWithin):
	case <-g.ctx.Done():
	}
}

// lockForSystem locks the signed-in session because the system locked the
// computer or switched to another user, and says so on the sign-in
// screen. It is not a person's activity: the idle clock is not touched.
// Run it on the UI thread.
func (g *gui) lockForSystem() {
	if g.session == nil {
		return
	}
	g.lockNow()
	// Queued after the lock hook's screen change.
	g.post(func() {
		if g.screen == "signin" && g.signIn != nil {
			g.signIn.status.Say(widget.MediumImportance, "ClinicVault locked when the computer was locked or switched to another user. Sign in to continue.")
		}
	})
}
