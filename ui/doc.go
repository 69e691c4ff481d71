// Package ui is ClinicVault's desktop interface, built with Fyne.
//
// It shows the first-run wizard when the data folder holds no vault, and
// the sign-in screen otherwise. After sign-in a shell with a navigation
// column holds the screens the signed-in role may use: Home, Users and the
// Audit log (admins only), and My account.
//
// The package reaches the vault only through package app. Slow work (key
// derivation at sign-in, vault creation, adding users, changing a
// passphrase) runs off the UI thread; its results reach widgets only inside
// fyne.Do.
//
// Keyboard: Tab moves between fields, Enter submits the focused form, Esc
// cancels the open dialog, and Ctrl+L (Cmd+L on macOS) locks the session.
//
// Idle lock: a ticker asks the session every 15 seconds whether it has been
// idle for longer than the practice's setting. Activity is reported to the
// session from every key typed in a ClinicVault text field (they are
// wrapped for that), from keys typed when no widget has focus, from every
// button, selection and navigation action, and from mouse movement over the
// window background. Fyne offers no window-wide mouse hook, so mouse
// movement over a widget that handles hover itself (a button, a list) is
// not seen; clicking it is.
package ui
