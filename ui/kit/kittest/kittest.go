// Package kittest holds the test helpers of the screen packages built on
// package kit (ui, admin and devices): running the UI work their goroutines
// post, a settable clock, a real vault with TOTP sign-in, a headless
// window in ClinicVault's theme framed as the shell frames a screen,
// finding and tapping widgets, saving screenshots, and comparing a few
// screens with their golden images (golden.go). Tests that use it see
// times in UTC.
//
// It is imported only by tests. Its helpers take the *testing.T of the
// calling test (as a testing.TB) and fail it when something goes wrong.
package kittest

import (
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/ui/kit"
)

// Tests see times in UTC, whatever the zone of the machine that runs
// them, so that the screens (and their golden images) show the same
// hours everywhere.
func init() { time.Local = time.UTC }

// ui is the UI work kit.Post queued, once CaptureUI has run.
var ui <-chan func()

// CaptureUI makes kit.Post queue UI work for Settle, WaitFor and
// RunQueued to run on the test's goroutine. A package's TestMain calls
// it before any screen is built.
func CaptureUI() {
	ui = kit.QueueUI(4096)
}

// Settle runs the UI work other goroutines posted until no background
// work is left, as the desktop driver's event loop would.
func Settle(t testing.TB) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case f := <-ui:
			f()
			continue
		default:
		}
		if kit.Pending() == 0 {
			return
		}
		select {
		case f := <-ui:
			f()
		case <-timeout:
			t.Fatal("background work did not finish")
		}
	}
}

// WaitFor runs posted UI work until done reports true, asking again at
// least every 20 ms; it fails the test after 30 seconds, saying what it
// waited for.
func WaitFor(t testing.TB, what string, done func() bool) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for !done() {
		select {
		case f := <-ui:
			f()
		case <-time.After(20 * time.Millisecond):
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// RunQueued runs the UI work queued so far, without waiting for more.
func RunQueued() {
	for len(ui) > 0 {
		(<-ui)()
	}
}
