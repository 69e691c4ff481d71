package folder

import (
	"errors"
	"fmt"
	"time"
)

// ErrInUse means a file in the folder stayed open in another program
// for as long as this computer waited (patience): on Windows a file that
// is open cannot be deleted or renamed over unless its opener allowed
// it, and an antivirus scan, a search indexer, a cloud client or another
// computer reading over the network holds files open for a moment. The
// operation changed nothing; the next pass tries again.
var ErrInUse = errors.New("sync: a file in the folder is in use by another program")

// patience is how long an operation on a file that another program holds
// open is tried again before it gives up (ErrInUse). A scan or a read by
// another computer lasts milliseconds to a second; two seconds outlast
// them without stalling a sync pass for long.
const patience = 2 * time.Second

// sweepPatience is how long a sweep of old pairing files waits, in all,
// for files held open: it runs at every sync pass while the session is
// held, so a file held for good must not stall each pass for long, and
// the next pass sweeps again.
const sweepPatience = patience / 4

// InUseError is the error of an operation on a file that stayed open in
// another program (errors.Is(err, ErrInUse)). Its Err is the system's
// own error: on Windows a sharing violation, or access denied (which is
// also what a share that may not be changed says).
type InUseError struct {
	Op     string        // "write", "replace", "remove" or "read"
	Path   string        // the file, a slash path within the folder
	Waited time.Duration // how long it was tried
	Err    error
}

// Error says what could not be done to which file, for how long it was
// tried, and the system's error.
func (e *InUseError) Error() string {
	return fmt.Sprintf("sync: could not %s %s in the sync folder: another program (an antivirus, a search indexer, a cloud client or another computer) kept it open for %v, or this computer may not change it: %v",
		e.Op, e.Path, e.Waited.Round(100*time.Millisecond), e.Err)
}

// Unwrap is ErrInUse and the system's error.
func (e *InUseError) Unwrap() []error { return []error{ErrInUse, e.Err} }

// retry runs do until it succeeds, fails otherwise than by the file
// being in use (busy), or deadline passes: then it returns an
// *InUseError for op on rel. It waits 10 ms, then twice as long each
// time, up to a quarter of a second.
func retry(op, rel string, deadline time.Time, do func() error) error {
	start := time.Now()
	wait := 10 * time.Millisecond
	for {
		err := do()
		if err == nil || !busy(err) {
			return err
		}
		left := time.Until(deadline)
		if left <= 0 {
			return &InUseError{Op: op, Path: rel, Waited: time.Since(start), Err: err}
		}
		time.Sleep(min(wait, left))
		wait = min(2*wait, 250*time.Millisecond)
	}
}
