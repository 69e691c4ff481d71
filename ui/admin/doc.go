// Package admin holds ClinicVault's practice-management screens: Backups,
// the Security Center, staff security Training, the Emergency access
// review, the quarterly Access review, and the reminders shown after
// sign-in.
//
// Each screen is built by one exported constructor that takes the window
// (for dialogs) and the signed-in session, and returns the screen's
// content for the shell to show. Screens that lead elsewhere take a goTo
// function, called with one of the Screen names below; the shell maps
// them to its navigation.
//
// The package reaches the vault only through package app (never store or
// database/sql) and uses Fyne's widgets directly, so it does not import
// package ui. Session calls run off the UI thread, because a backup or a
// verification holds the session for its whole length; their results
// reach widgets only inside fyne.Do. Errors are shown in plain words by
// package plain.
package admin
