package devices

import (
	"os"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
)

// chooseFolder asks for a folder, starting in start when it exists, and
// calls picked with its path (not when cancelled). Tests replace it with
// one that answers at once.
var chooseFolder = func(win fyne.Window, start string, picked func(dir string)) {
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil {
			showError(win, "The folder could not be opened", err)
			return
		}
		if u != nil {
			picked(u.Path())
		}
	}, win)
	d.SetConfirmText("Use this folder")
	if l := startAt(start); l != nil {
		d.SetLocation(l)
	}
	d.Resize(fyne.NewSize(760, 520))
	d.Show()
}

// startAt returns start as a folder the dialog can open in, or nil.
func startAt(start string) fyne.ListableURI {
	if start == "" {
		return nil
	}
	if st, err := os.Stat(start); err != nil || !st.IsDir() {
		return nil
	}
	l, err := storage.ListerForURI(storage.NewFileURI(start))
	if err != nil {
		return nil
	}
	return l
}
