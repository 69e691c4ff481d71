// Package devices holds ClinicVault's screens for several computers
// sharing one vault through a shared folder or a relay: the Sync screen
// (the folder, the relay, "Sync now", the last pass's result and each
// computer's status), the Devices screen (the practice's computers;
// admins add one, through the folder or the relay, with a one-time code
// and a fingerprint both screens show, rename, and revoke), and the Join
// screen a new computer shows before it has a vault (the folder, or the
// relay's address).
// StartWatcher syncs by itself whenever the folder changes.
//
// The package reaches the vault only through package app (never store or
// database/sql) and uses Fyne's widgets directly, so it does not import
// package ui. Every session call runs off the UI thread, because a sync
// pass holds the session for its whole length and a network share can be
// slow; results reach widgets only inside fyne.Do. Errors are shown in
// plain words: an unplugged or unreachable folder is not a failure, since
// changes wait on this computer until it is back.
package devices
