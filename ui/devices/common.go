package devices

import (
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
)

var (
	// now is the clock for times shown and for a pairing code's expiry;
	// tests set the vault's.
	now = time.Now
	// poll is how often pairing looks for the other computer's answer.
	poll = 500 * time.Millisecond
)

// closeOnLock hides d when the session locks, so that no code, number
// or question stays on screen over the sign-in screen.
func closeOnLock(s *app.Session, d interface{ Hide() }) {
	go func() {
		var once sync.Once
		hide := func() { once.Do(func() { kit.Post(d.Hide) }) }
		s.OnLock(hide)
		if s.Locked() { // locked before the hook was in place
			hide()
		}
	}()
}

// ago says how long before now t was, roughly: "never" for the zero
// time, and the date ("on 2 Mar 2026") after two weeks.
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	n := now()
	if n.Sub(t) >= 14*24*time.Hour {
		return "on " + kit.Day(t)
	}
	return kit.Ago(t, n)
}

// clockTime is a time of day as the screens show it.
func clockTime(t time.Time) string {
	return t.Local().Format("15:04")
}

// bigText shows a code or a fingerprint large, in a monospaced bold face,
// centred; the label can be selected and copied.
type bigText struct {
	label *widget.Label
	view  fyne.CanvasObject
}

func newBigText(text string) *bigText {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignCenter, fyne.TextStyle{Bold: true, Monospace: true})
	l.SizeName = kit.SizeNameBig
	l.Selectable = true
	return &bigText{label: l, view: l}
}

// monospace is text to type or copy as it is (an address, a
// fingerprint, a command): monospaced, selectable, broken anywhere to
// fit.
func monospace(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	l.Selectable = true
	l.Wrapping = fyne.TextWrapBreak
	return l
}
