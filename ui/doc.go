// Package ui is ClinicVault's desktop interface, built with Fyne.
//
// It shows the first-run wizard when the data folder holds no vault, and
// the sign-in screen otherwise. After sign-in a shell with a navigation
// column holds the screens the signed-in role may use: Today (the day
// book, shown first), Patients, Import, Export, Home, Users and the Audit
// log (admins only), and My account. A patient's chart opens from Today and from
// Patients, in place of the screen, with a way back. Receptionists see
// demographics and appointments only; clinicians and admins also see the
// clinical record, and a restricted chart offers emergency access.
//
// Import reads a spreadsheet (CSV or XLSX) or a FHIR bundle and shows a
// preview before anything is written: which column fills which field,
// the first rows that will go in, and every refused row with its number
// and reason. As in package app, nothing is imported while rows are
// refused unless the user ticks the box to skip them; afterwards the
// screen advises deleting the sheet. Export writes the practice or one
// patient as a FHIR R4 bundle or CSV, encrypted with age to a passphrase
// or a recipient unless the user explicitly chooses no encryption, which
// is shown in red. A chart's encounters each offer Print summary…, which
// saves the visit summary as an (unencrypted) PDF.
//
// Patient search runs as the user types, off the UI thread, 150 ms after
// the last key; only the newest search's results are shown, and only the
// first page of them is fetched, so the list stays quick however many
// patients the practice has.
//
// The package reaches the vault only through package app. Slow work (key
// derivation at sign-in, vault creation, adding users, changing a
// passphrase, loading the day book, a chart or a record's history,
// searching, storing and saving documents, importing, exporting and
// printing) runs off the UI thread; its
// results reach widgets only inside fyne.Do.
//
// Keyboard: Tab moves between fields, Enter submits the focused form
// (Ctrl+Enter in a multi-line field), Esc cancels the open dialog, and
// Ctrl+L (Cmd+L on macOS) locks the session. Ctrl+F finds a patient,
// Ctrl+N registers one, Up and Down move through a list and Enter opens
// the selected row, and Ctrl+Page Down and Ctrl+Page Up move between a
// chart's tabs.
//
// Idle lock: a ticker asks the session every 15 seconds whether it has been
// idle for longer than the practice's setting. Activity is reported to the
// session from every key typed in a ClinicVault text field (they are
// wrapped for that), from keys typed when no widget has focus, from every
// button, selection and navigation action, and from mouse movement over the
// window background. Fyne offers no window-wide mouse hook, so mouse
// movement over a widget that handles hover itself (a button, a list) is
// not seen; clicking it is.
//
// The system's own lock: when the operating system locks the computer or
// switches to another user (package screenlock), the session locks at
// once on the UI thread and the sign-in screen says why. That is not a
// person's activity and does not touch the idle clock.
//
// The window: one per data folder (package app/instance, wired in main;
// a second start brings this window forward through Run's serve). It
// opens at the size it had when it last closed on the folder, kept
// between 1024×700, the smallest the screens are designed for, and 4096
// a side; on Windows also where it was and whether it was maximised
// (package winplace), since Fyne 2.7 has no window position of its own.
// File dialogs start in the user's Documents folder (package userdirs).
package ui
