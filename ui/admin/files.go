package admin

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"

	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// fileChooser opens the system's file dialogs. Tests replace files with
// one that answers at once.
type fileChooser struct {
	// folder asks for a folder, starting in start when it exists (else in
	// Documents), and
	// calls picked with its path (not when cancelled).
	folder func(win fyne.Window, start string, picked func(dir string))
	// open asks for a file with one of the extensions, starting in start
	// (else in Documents), and calls picked with its path.
	open func(win fyne.Window, start string, exts []string, picked func(path string))
	// save asks where to save a file suggested as name, starting in
	// Documents, and calls picked with the open writer (the caller closes
	// it).
	save func(win fyne.Window, name string, picked func(w fyne.URIWriteCloser))
}

var files = fileChooser{folder: chooseFolder, open: chooseFile, save: chooseSave}

// chooseFolder asks for a folder with the system's dialog.
func chooseFolder(win fyne.Window, start string, picked func(string)) {
	kit.ChooseFolder(win, start, "", picked, func(err error) {
		plain.ShowError(win, "The folder could not be opened", err)
	})
}

func chooseFile(win fyne.Window, start string, exts []string, picked func(string)) {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			plain.ShowError(win, "The file could not be opened", err)
			return
		}
		if r != nil {
			path := r.URI().Path()
			r.Close()
			picked(path)
		}
	}, win)
	if len(exts) > 0 {
		d.SetFilter(storage.NewExtensionFileFilter(exts))
	}
	kit.StartIn(d, start)
	d.Resize(fyne.NewSize(760, 520))
	d.Show()
}

func chooseSave(win fyne.Window, name string, picked func(fyne.URIWriteCloser)) {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			plain.ShowError(win, "The file could not be created", err)
			return
		}
		if w != nil {
			picked(w)
		}
	}, win)
	d.SetFileName(name)
	kit.StartIn(d, "")
	d.Resize(fyne.NewSize(760, 520))
	d.Show()
}
