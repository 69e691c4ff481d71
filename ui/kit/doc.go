// Package kit holds the helpers ClinicVault's screens share (those of
// packages admin and devices, and some of package ui's): posting work to
// the UI thread and running session calls off it, the plain-words
// formatting of sentences, counts and dates, the labels, layouts and boxes
// the screens are built from (headings, wrapping and hint labels, a
// self-hiding status line, proportional columns, scrolling pages, cards and
// coloured notices), the message dialogs, and the folder dialog.
//
// Like the screens, kit reaches the vault only through package app
// (never store or database/sql) and uses Fyne's widgets directly, so it
// does not import package ui. Its sibling package kittest holds the test
// helpers of the packages that use it.
package kit
