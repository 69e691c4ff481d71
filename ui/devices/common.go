package devices

import (
	"context"
	"errors"
	"image/color"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
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

// unreachable is what the screens say when the folder is not there.
const unreachable = "The sync folder cannot be reached; changes wait here and go out when it is back."

// plain turns an error from app or sync into a sentence for the screen.
func plain(err error) string {
	if err == nil {
		return ""
	}
	var pe *app.PolicyError
	switch {
	case errors.Is(err, cvsync.ErrUnreachable):
		return unreachable
	case errors.Is(err, context.Canceled):
		return "Cancelled."
	case errors.As(err, &pe):
		return kit.Sentence(pe.Reason)
	case errors.Is(err, app.ErrLocked):
		return "The session is locked. Sign in again."
	case errors.Is(err, app.ErrEnrollTOTP):
		return "Set up your authenticator app again first (an admin reset it)."
	case errors.Is(err, cvsync.ErrPairingExpired):
		return "The code has expired: a code works for 10 minutes. Ask the admin for a new one. (If it was made just now, check that this computer's date and time are right.)"
	case errors.Is(err, app.ErrPairingTimeout):
		return "The other computer did not answer before the code expired (10 minutes). Start again with a new code."
	case errors.Is(err, app.ErrVaultExists):
		return "This computer already holds a ClinicVault vault, or its data folder is not empty. A computer joins a practice only with an empty data folder."
	case errors.Is(err, app.ErrNotPermitted):
		why := strings.TrimSuffix(err.Error(), ": "+app.ErrNotPermitted.Error())
		if _, perr := app.ParseRole(why); perr == nil || why == err.Error() {
			return "Only an admin can do this."
		}
		return kit.Sentence(why)
	case errors.Is(err, cvsync.ErrPairing):
		why := strings.TrimSuffix(err.Error(), ": "+cvsync.ErrPairing.Error())
		if why == err.Error() {
			return "The code does not match. Check it for typing mistakes, or ask the admin for a new one."
		}
		if strings.HasPrefix(why, "no invitation for that code") {
			return "There is no invitation for this code in that folder. Check the code, and that both computers use the same sync folder."
		}
		return kit.Sentence(why)
	}
	msg := err.Error()
	for _, sentinel := range []error{app.ErrUsage, app.ErrInvalid, app.ErrNotFound} {
		msg = strings.TrimSuffix(msg, ": "+sentinel.Error())
	}
	msg = strings.TrimPrefix(msg, "sync: ")
	if i := strings.Index(msg, ": store: "); i > 0 {
		msg = msg[:i]
	}
	return kit.Sentence(msg)
}

// inWords is a duration in words: "7 minutes", "1 hour 2 minutes", "45
// seconds" (seconds only under an hour).
func inWords(d time.Duration) string {
	d = d.Round(time.Second)
	h, mi, sec := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	var parts []string
	if h > 0 {
		parts = append(parts, kit.Plural(h, "hour"))
	}
	if mi > 0 {
		parts = append(parts, kit.Plural(mi, "minute"))
	}
	if sec > 0 && h == 0 {
		parts = append(parts, kit.Plural(sec, "second"))
	}
	if len(parts) == 0 {
		return "less than a second"
	}
	return strings.Join(parts, " ")
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

// sizeNameBig is the text size of a pairing code or fingerprint.
const sizeNameBig fyne.ThemeSizeName = "clinicvault.devices.big"

// bigTheme is the app's theme with a large size for sizeNameBig; it asks
// the app for its theme each time, so it follows a change of theme.
type bigTheme struct{}

func (bigTheme) base() fyne.Theme { return fyne.CurrentApp().Settings().Theme() }

// Color is the app theme's.
func (b bigTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	return b.base().Color(n, v)
}

// Font is the app theme's.
func (b bigTheme) Font(s fyne.TextStyle) fyne.Resource { return b.base().Font(s) }

// Icon is the app theme's.
func (b bigTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return b.base().Icon(n) }

// Size is 40 for sizeNameBig, else the app theme's.
func (b bigTheme) Size(n fyne.ThemeSizeName) float32 {
	if n == sizeNameBig {
		return 40
	}
	return b.base().Size(n)
}

// bigText shows a code or a fingerprint large, in a monospaced bold face,
// centred; the label can be selected and copied.
type bigText struct {
	label *widget.Label
	view  fyne.CanvasObject
}

func newBigText(text string) *bigText {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignCenter, fyne.TextStyle{Bold: true, Monospace: true})
	l.SizeName = sizeNameBig
	l.Selectable = true
	return &bigText{label: l, view: container.NewThemeOverride(l, bigTheme{})}
}

// showError shows err in plain words in a dialog titled title.
func showError(win fyne.Window, title string, err error) {
	kit.ShowError(win, title, plain(err))
}
