package ui

import (
	"errors"
	"strings"

	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
)

// plain turns an error from app into a sentence for the screen. app's
// messages are already plain English; this drops the trailing category
// that wrapping adds (": sign-in refused", ": invalid request") and
// replaces the few terse ones.
func plain(err error) string {
	if err == nil {
		return ""
	}
	var pe *app.PolicyError
	switch {
	case errors.As(err, &pe):
		return kit.Sentence(pe.Reason)
	case errors.Is(err, app.ErrNotPermitted):
		// "receptionist: not permitted..." names only the role; other
		// refusals say why ("the recovery key restores an admin...").
		why := strings.TrimSuffix(err.Error(), ": "+app.ErrNotPermitted.Error())
		if _, perr := app.ParseRole(why); perr == nil || why == err.Error() {
			return "Your role does not allow this. Ask an admin."
		}
		return kit.Sentence(why)
	case errors.Is(err, app.ErrUserExists):
		return "A member of staff with this name already exists. Use a different name, for example with an initial."
	case errors.Is(err, app.ErrUserNotFound):
		return "There is no member of staff with this name (someone may have just removed them)."
	case errors.Is(err, app.ErrLocked):
		return "The session is locked. Sign in again."
	case errors.Is(err, app.ErrLastAdmin):
		return "The practice must keep at least one admin. Make someone else an admin first."
	case errors.Is(err, app.ErrRestricted):
		return "This chart is restricted to named clinicians. Open it with emergency access and a reason."
	case errors.Is(err, app.ErrPatientNotFound):
		return "There is no patient with this MRN (the record may have been merged into another)."
	case errors.Is(err, app.ErrAppointmentNotFound):
		return "This appointment no longer exists. Reload the day."
	}
	msg := err.Error()
	// The storage layer's own category ("...: store: audit log has been
	// altered") repeats what the first part says.
	if i := strings.Index(msg, ": store: "); i > 0 {
		msg = msg[:i]
	}
	for _, sentinel := range []error{app.ErrSignInRefused, app.ErrUsage, app.ErrBadRecoveryKey, app.ErrPolicy, app.ErrInvalid, app.ErrNotFound, app.ErrUnreadableSheet} {
		msg = strings.TrimSuffix(msg, ": "+sentinel.Error())
	}
	return kit.Sentence(msg)
}

// showError shows err in plain words in a dialog titled title.
func (g *gui) showError(title string, err error) {
	l := kit.Wrapped(plain(err))
	l.Importance = widget.DangerImportance
	g.showDialog(dialog.NewCustom(title, "OK", container.New(kit.FixedWidth(420), l), g.win))
}

// showInfo shows a message in a dialog titled title.
func (g *gui) showInfo(title, msg string) {
	g.showDialog(dialog.NewCustom(title, "OK", container.New(kit.FixedWidth(420), kit.Wrapped(msg)), g.win))
}
