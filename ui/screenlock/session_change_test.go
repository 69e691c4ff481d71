package screenlock

import "testing"

// Windows's session messages: locking and losing the console or the
// remote connection lock ClinicVault; unlocking, connecting, logging on
// and other messages do not.
func TestSessionChangeLocks(t *testing.T) {
	for _, c := range []struct {
		msg    uint32
		wParam uintptr
		want   bool
	}{
		{wmWTSSessionChange, wtsSessionLock, true},
		{wmWTSSessionChange, wtsConsoleDisconnect, true},
		{wmWTSSessionChange, wtsRemoteDisconnect, true},
		{wmWTSSessionChange, wtsSessionUnlock, false},
		{wmWTSSessionChange, wtsConsoleConnect, false},
		{wmWTSSessionChange, wtsRemoteConnect, false},
		{wmWTSSessionChange, wtsSessionLogon, false},
		{wmWTSSessionChange, wtsSessionLogoff, false},
		{wmWTSSessionChange, 0x9, false}, // WTS_SESSION_REMOTE_CONTROL
		{0x0010, wtsSessionLock, false},  // WM_CLOSE
		{0x0002, 0, false},               // WM_DESTROY
	} {
		if got := sessionChangeLocks(c.msg, c.wParam); got != c.want {
			t.Errorf("message %#x, wParam %#x: locks %v, want %v", c.msg, c.wParam, got, c.want)
		}
	}
}
