package screenlock

// Windows's WM_WTSSESSION_CHANGE message and the reasons (its wParam) that
// lock ClinicVault. They are plain numbers so that sessionChangeLocks is
// tested on every system, and under Wine.
const (
	wmWTSSessionChange = 0x02B1

	wtsConsoleConnect    = 0x1
	wtsConsoleDisconnect = 0x2
	wtsRemoteConnect     = 0x3
	wtsRemoteDisconnect  = 0x4
	wtsSessionLogon      = 0x5
	wtsSessionLogoff     = 0x6
	wtsSessionLock       = 0x7
	wtsSessionUnlock     = 0x8
)

// sessionChangeLocks reports whether a window message locks ClinicVault:
// WM_WTSSESSION_CHANGE for the session being locked, or for its console
// or remote connection going away (another user switched in, a Remote
// Desktop window closed). Unlocking, connecting and every other message
// do not.
func sessionChangeLocks(msg uint32, wParam uintptr) bool {
	if msg != wmWTSSessionChange {
		return false
	}
	switch wParam {
	case wtsSessionLock, wtsConsoleDisconnect, wtsRemoteDisconnect:
		return true
	}
	return false
}
