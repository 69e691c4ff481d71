// Package screenlock tells the window when the operating system locks the
// user's session or switches away from it, so that ClinicVault locks too.
//
// On Linux it listens on D-Bus: on the session bus for the
// screen saver's ActiveChanged(true) (org.freedesktop.ScreenSaver, as KDE
// and others send it, and org.gnome.ScreenSaver), and on the system bus
// for logind's Lock signal to this process's session and for that session
// turning inactive (another user switched in) or locked (LockedHint). On
// Windows a message-only window registered with
// WTSRegisterSessionNotification hears WM_WTSSESSION_CHANGE: the session
// locked, or its console or remote connection dropped (fast user
// switching, a closed Remote Desktop). On macOS the system's distributed
// notifications com.apple.screenIsLocked and the workspace's
// session-resigned-active notification are heard (built with cgo only, and
// untested on a real Mac).
//
// None of this is required: without a bus, an API or a permission, lock
// is simply never called, and nothing is logged.
package screenlock
