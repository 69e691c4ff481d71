// Package kit holds what ClinicVault's screens share (those of packages
// ui, admin and devices): posting work to the UI thread and running slow
// calls off it; the text field (Entry: typing is activity for the idle
// lock, Tab moves on, Ctrl+Enter submits a note, Esc and shortcuts can go
// to the window); the theme (teal primary, readable status colours, the
// recovery key's and a pairing code's text sizes); the plain-words
// formatting of sentences, counts and dates; a shortcut's name as the
// system writes it (Ctrl+L, or ⌘L on macOS); the labels, layouts and boxes
// the screens are built from (headings, wrapping and hint labels, a
// self-hiding status line, proportional columns, a minimum height,
// scrolling pages, cards and coloured notices); the message dialogs; and
// the folder dialog. There is one of each: a screen package does not keep
// its own.
//
// kit knows nothing of the vault: it imports neither package app nor
// store, and sees a session only as an Activity (anything with Touch).
// Putting app's errors in words is package plain's, which sits above kit.
// Its sibling package kittest holds the screen packages' test helpers;
// only its vault.go, which builds vaults and signs people in, imports
// app.
package kit
