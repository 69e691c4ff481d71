package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/clinicvault/clinicvault/app"
)

// testPanicHook, set only by this package's tests, is called with each
// command's name before it runs: a test makes it panic to check what a
// user sees of a bug. Nothing a user can type or set reaches it.
var testPanicHook func(command string)

// Recovered is what a panic that reached the top of ClinicVault (a
// command line's Main, or the window's run) ends in: one sentence on w,
// the details for support in a log file (app.WriteCrashLog: the value's
// type and the stack without argument values, so no patient data and no
// passphrase), and exit status 1. dataDir is the data folder, or "".
func Recovered(w io.Writer, dataDir string, value any, stack []byte) int {
	path, err := app.WriteCrashLog(dataDir, value, stack, time.Now())
	if err != nil {
		fmt.Fprintf(w, "clinicvault: ClinicVault stopped on an internal error, and could not write the details (%v).\n", err)
		return ExitError
	}
	fmt.Fprintf(w, "clinicvault: ClinicVault stopped on an internal error; the details for support (no patient data) are in %s\n", path)
	return ExitError
}

// crashed ends a run that panicked: the session is locked (its keys
// wiped, its databases closed) if it can be, then Recovered.
func (r *runner) crashed(value any, stack []byte) int {
	if r.sess != nil {
		func() {
			defer func() { _ = recover() }() // a second panic must not hide the first
			r.sess.Lock(r.ctx)
		}()
	}
	return Recovered(r.io.Err, r.g.data, value, stack)
}
