//go:build windows

package screenlock

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// The message-only window hears session changes: a lock message posted to
// it locks, an unlock does not, and the loop ends with its context.
func TestMessageWindowLocks(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	locks := make(chan struct{}, 4)
	ready := make(chan uintptr, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		watchMessages(ctx, func() { locks <- struct{}{} }, func(hwnd uintptr) { ready <- hwnd })
	}()
	var hwnd uintptr
	select {
	case hwnd = <-ready:
	case <-done:
		t.Skip("no message-only window or session notifications here")
	case <-time.After(10 * time.Second):
		t.Fatal("the window was not made")
	}
	post := func(wParam uintptr) {
		t.Helper()
		if r, _, err := procPostMessageW.Call(hwnd, wmWTSSessionChange, wParam, 1); r == 0 {
			t.Fatalf("PostMessage: %v", err)
		}
	}
	post(wtsSessionUnlock)
	post(wtsSessionLock)
	select {
	case <-locks:
	case <-time.After(10 * time.Second):
		t.Fatal("WTS_SESSION_LOCK did not lock")
	}
	post(wtsRemoteDisconnect)
	select {
	case <-locks:
	case <-time.After(10 * time.Second):
		t.Fatal("WTS_REMOTE_DISCONNECT did not lock")
	}
	if len(locks) != 0 {
		t.Fatal("WTS_SESSION_UNLOCK locked")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the message loop did not end with its context")
	}
}
