package kit

import (
	"os"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
)

// StartAt returns start as a folder a file dialog can open in, or nil
// when start is empty or not an existing folder.
func StartAt(start string) fyne.ListableURI {
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

// ChooseFolder opens the folder dialog, starting in start when it exists,
// with confirm on its button ("" keeps Fyne's own), and calls picked with
// the folder's path (not when cancelled), or failed when the folder could
// not be opened.
func ChooseFolder(win fyne.Window, start, confirm string, picked func(dir string), failed func(error)) {
	d := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
		if err != nil {
			failed(err)
			return
		}
		if u != nil {
			picked(u.Path())
		}
	}, win)
	if confirm != "" {
		d.SetConfirmText(confirm)
	}
	if l := StartAt(start); l != nil {
		d.SetLocation(l)
	}
	d.Resize(fyne.NewSize(760, 520))
	d.Show()
}
