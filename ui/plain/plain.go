// Package plain puts the errors of packages app and sync in plain words
// for the screens of packages ui, admin and devices: one sentence each,
// chosen by errors.Is and errors.As, never by reading the error's text.
// An error without a sentence of its own is shown as app wrote it (app's
// messages are already plain English), less the categories that wrapping
// adds (": invalid request", ": store: …").
//
// It sits above package kit (which knows nothing of app) and below the
// screens.
package plain

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/clinicvault/clinicvault/ui/kit"
)

// Unreachable is what the screens say when the sync folder is not there.
const Unreachable = "The sync folder or relay cannot be reached; changes wait here and go out when it is back."

// sentences are the errors with a sentence of their own, whatever else
// their message says.
var sentences = []struct {
	err  error
	text string
}{
	{cvsync.ErrUnreachable, Unreachable},
	{cvsync.ErrInUse, "A file in the sync folder stayed open in another program (another computer reading it, the antivirus or the cloud app), so this pass stopped; nothing was lost. It is tried again at the next pass."},
	{cvsync.ErrNameClash, "The sync folder holds two names that differ only in capital letters (made by a tool or a copy); ClinicVault reads neither. Ask whoever looks after the shared folder to remove the copy."},
	{cvsync.ErrNotPlain, "The sync folder holds a link or a special file where ClinicVault keeps its own files. It was not followed and nothing was changed; ask whoever looks after the shared folder to check it, as someone may have tampered with it."},
	{app.ErrRelayClaim, "The relay refused the claim: the code is not this relay's, or the relay belongs to a practice already."},
	{cvsync.ErrRelayRefused, "The relay refused this computer: it is not admitted (revoked, or not paired through this relay)."},
	{cvsync.ErrRelayPin, "The relay's certificate is not the one this practice paired with: another server, or someone in between. Check the address and the fingerprint."},
	{context.Canceled, "Cancelled."},
	{app.ErrLocked, "The session is locked. Sign in again."},
	{app.ErrDiskFull, "The disk is full, so this was not saved (nothing was half-saved). Free some space and try again."},
	{app.ErrBusy, "Another ClinicVault on this computer is busy with a large change (an import or a backup), so this was not saved. Try again in a minute."},
	{app.ErrEnrollTOTP, "Set up your authenticator app again first (an admin reset it)."},
	{app.ErrUserExists, "A member of staff with this name already exists. Use a different name, for example with an initial."},
	{app.ErrUserNotFound, "There is no member of staff with this name (someone may have just removed them)."},
	{app.ErrLastAdmin, "The practice must keep at least one admin. Make someone else an admin first."},
	{app.ErrRestricted, "This chart is restricted to named clinicians. Open it with emergency access and a reason."},
	{app.ErrPatientNotFound, "There is no patient with this MRN (the record may have been merged into another)."},
	{app.ErrAppointmentNotFound, "This appointment no longer exists. Reload the day."},
	{cvsync.ErrPairingExpired, "The code has expired: a code works for 10 minutes. Ask the admin for a new one. (If it was made just now, check that this computer's date and time are right.)"},
	{app.ErrPairingTimeout, "The other computer did not answer before the code expired (10 minutes). Start again with a new code."},
	{cvsync.ErrPairingContested, "More than one computer answered this code, so it was cancelled and no computer was added: someone else may have seen the code. Start again with a new code, and give it only to the person at the new computer."},
	{cvsync.ErrPairingBroken, "The answer to this code changed after it was given, so the code was cancelled and no computer was added. Start again with a new code."},
	{cvsync.ErrPairingAnswered, "Another computer already answered this code; ask for a new one."},
	{cvsync.ErrPairingClosed, "The admin's computer withdrew this code (cancelled, or it expired). Ask the admin for a new one."},
	{app.ErrDeviceIDTaken, "The answer to this code claimed to be a computer the practice already has, so it was refused and nothing was changed. Start again with a new code."},
	{app.ErrNotBackup, "This file is not a ClinicVault backup."},
	{app.ErrImportFileChanged, "The file changed after it was previewed (it was saved again, or replaced), so nothing of it was imported. Choose it again to see what it holds now."},
}

// categories are the sentinels whose text wrapping appends to a message
// (": invalid request"); a message ending in one says its reason first.
var categories = []error{app.ErrNotPermitted, cvsync.ErrPairing, app.ErrBackupDamaged, app.ErrSignInRefused,
	app.ErrUsage, app.ErrBadRecoveryKey, app.ErrPolicy, app.ErrInvalid, app.ErrNotFound, app.ErrUnreadableSheet}

// Error is err as a sentence for the screen; "" for nil.
func Error(err error) string {
	if err == nil {
		return ""
	}
	var policy *app.PolicyError
	var role *app.RoleError
	var invitation *app.NoInvitationError
	var encoding *app.EncodingError
	switch {
	case errors.As(err, &encoding):
		return notText(encoding)
	case errors.As(err, &policy):
		return kit.Sentence(policy.Reason)
	case errors.As(err, &role):
		return "Your role does not allow this. Ask an admin."
	case errors.As(err, &invitation):
		return "There is no invitation for this code in that folder. Check the code, and that both computers use the same sync folder."
	}
	for _, s := range sentences {
		if errors.Is(err, s.err) {
			return s.text
		}
	}
	why := reason(err.Error())
	switch {
	case errors.Is(err, app.ErrBackupDamaged):
		return damaged(why)
	case why != "":
		return kit.Sentence(why)
	case errors.Is(err, app.ErrNotPermitted):
		return "Your role does not allow this. Ask an admin."
	case errors.Is(err, cvsync.ErrPairing):
		return "The code does not match. Check it for typing mistakes, or ask the admin for a new one."
	}
	return kit.Sentence(err.Error())
}

// reason is a message less the categories wrapping appended: the text
// of the sentinel at its end, and the storage layer's part (": store:
// audit log has been altered"), which repeats what the first part says.
// It is "" for a bare sentinel.
func reason(msg string) string {
	for _, c := range categories {
		if msg == c.Error() {
			return ""
		}
	}
	if i := strings.Index(msg, ": store: "); i > 0 {
		msg = msg[:i]
	}
	for _, c := range categories {
		msg = strings.TrimSuffix(msg, ": "+c.Error())
	}
	msg = strings.TrimPrefix(msg, "sync: ")
	return strings.TrimPrefix(msg, "store: ")
}

// damaged is the sentence for a damaged backup, with what app found.
func damaged(detail string) string {
	out := "The backup file is damaged or incomplete, or it belongs to another vault"
	if detail != "" {
		out += " (" + detail + ")"
	}
	return out + "."
}

// ShowError shows err in plain words in a dialog titled title.
func ShowError(win fyne.Window, title string, err error) {
	kit.ShowError(win, title, Error(err))
}

// notText is the sentence for a sheet whose text is in no encoding the
// importer reads.
func notText(e *app.EncodingError) string {
	where := fmt.Sprintf("line %d", e.Line)
	if e.Likely != "" {
		where += "; it looks like " + e.Likely
	}
	return fmt.Sprintf("%s was not imported: its text is not UTF-8, UTF-16 or Windows-1252 (%s), so names would be stored garbled. Open it in the program that made it, save it as \"CSV UTF-8\" and import it again.", e.File, where)
}
