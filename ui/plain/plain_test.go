package plain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

func TestError(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("the passphrase or the code is not right: %w", app.ErrSignInRefused), "The passphrase or the code is not right."},
		{&app.ThrottledError{Wait: 9 * time.Second}, "Too many failed sign-ins: try again in 9 s."},
		{app.ErrLockedOut, "This account is locked after too many failed sign-ins: ask an admin to unlock it (a locked-out admin can use the recovery key)."},
		{&app.PolicyError{Reason: "Too short: use at least 12 characters (you have 3). A few unrelated words work well."}, "Too short: use at least 12 characters (you have 3). A few unrelated words work well."},
		{fmt.Errorf("the user name is empty: %w", app.ErrUsage), "The user name is empty."},
		{app.ErrUsage, "Invalid request."},
		{app.ErrLastAdmin, "The practice must keep at least one admin. Make someone else an admin first."},
		{fmt.Errorf("adding Lee: %w", app.ErrLastAdmin), "The practice must keep at least one admin. Make someone else an admin first."},
		// A refusal for the role alone, typed by app, or bare.
		{&app.RoleError{Role: app.Receptionist}, "Your role does not allow this. Ask an admin."},
		{fmt.Errorf("rename: %w", &app.RoleError{Role: app.Clinician}), "Your role does not allow this. Ask an admin."},
		{app.ErrNotPermitted, "Your role does not allow this. Ask an admin."},
		// A refusal with a reason says it.
		{fmt.Errorf("the recovery key restores an admin, and Sam is a receptionist: %w", app.ErrNotPermitted), "The recovery key restores an admin, and Sam is a receptionist."},
		{errors.New("audit row 5 was edited: store: audit log has been altered"), "Audit row 5 was edited."},
		{errors.Join(errors.New("x"), cvsync.ErrUnreachable), Unreachable},
		// The shared folder's troubles, by their type (sync/folder).
		{&cvsync.InUseError{Path: `Z:\share\devices\x\000000000001`}, "A file in the sync folder stayed open in another program (another computer reading it, the antivirus or the cloud app), so this pass stopped; nothing was lost. It is tried again at the next pass."},
		{fmt.Errorf("devices/ab: %w", cvsync.ErrNameClash), "The sync folder holds two names that differ only in capital letters (made by a tool or a copy); ClinicVault reads neither. Ask whoever looks after the shared folder to remove the copy."},
		{fmt.Errorf("pairing: %w", cvsync.ErrNotPlain), "The sync folder holds a link or a special file where ClinicVault keeps its own files. It was not followed and nothing was changed; ask whoever looks after the shared folder to check it, as someone may have tampered with it."},
		{&app.NoInvitationError{Dir: "/mnt/share"}, "There is no invitation for this code in that folder. Check the code, and that both computers use the same sync folder."},
		{cvsync.ErrPairing, "The code does not match. Check it for typing mistakes, or ask the admin for a new one."},
		{fmt.Errorf("another computer already answered this code; ask for a new one: %w", cvsync.ErrPairing), "Another computer already answered this code; ask for a new one."},
		{fmt.Errorf("pairing: %w", cvsync.ErrPairingExpired), "The code has expired: a code works for 10 minutes. Ask the admin for a new one. (If it was made just now, check that this computer's date and time are right.)"},
		{fmt.Errorf("no manifest: %w", app.ErrBackupDamaged), "The backup file is damaged or incomplete, or it belongs to another vault (no manifest)."},
		{app.ErrBackupDamaged, "The backup file is damaged or incomplete, or it belongs to another vault."},
		{fmt.Errorf("old.cvbackup: %w", app.ErrNotBackup), "This file is not a ClinicVault backup."},
		// A sheet in no encoding the importer reads: said by its type.
		{&app.EncodingError{File: "jp.csv", Line: 2, Likely: "Japanese Shift-JIS"}, `jp.csv was not imported: its text is not UTF-8, UTF-16 or Windows-1252 (line 2; it looks like Japanese Shift-JIS), so names would be stored garbled. Open it in the program that made it, save it as "CSV UTF-8" and import it again.`},
	} {
		if got := Error(c.err); got != c.want {
			t.Errorf("Error(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// TestVerifyFailure: a backup's last failed verification, as the vault
// recorded it, reads by its type: damaged only when it was.
func TestVerifyFailure(t *testing.T) {
	detail := fmt.Errorf("backup contents: unexpected EOF: %w", app.ErrBackupDamaged).Error()
	if got, want := Error(&app.VerifyFailure{Detail: detail, Damaged: true}), "The backup file is damaged or incomplete, or it belongs to another vault (backup contents: unexpected EOF)."; got != want {
		t.Errorf("damaged: %q, want %q", got, want)
	}
	if got := Error(&app.VerifyFailure{Detail: detail}); strings.Contains(got, "damaged or incomplete") {
		t.Errorf("a failure not recorded as damaged reads as damaged from its words: %q", got)
	}
}
