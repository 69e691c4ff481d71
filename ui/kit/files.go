package kit

import (
	"os"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/storage/repository"

	"github.com/clinicvault/clinicvault/ui/userdirs"
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

// StartIn makes the file dialog d open in start when that is an existing
// folder, else in the user's Documents folder (the home folder when there
// is none), rather than in Fyne's choice, the folder it last showed.
func StartIn(d *dialog.FileDialog, start string) {
	l := StartAt(start)
	if l == nil {
		l = StartAt(userdirs.Documents())
	}
	if l != nil {
		d.SetLocation(l)
	}
}

// ChooseFolder opens the folder dialog, starting in start when it exists
// (else in Documents),
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
	StartIn(d, start)
	d.Resize(fyne.NewSize(760, 520))
	d.Show()
}

// fileRepo is what Fyne's own file repository offers.
type fileRepo interface {
	repository.DeleteAllRepository
	repository.AppendableRepository
	repository.HierarchicalRepository
	repository.ListableRepository
	repository.MovableRepository
	repository.CopyableRepository
}

// safeFiles is Fyne's file repository with one change: what a file
// dialog's writer writes is a new file of mode 0600 that replaces the
// chosen one as a whole once closed, and a symbolic link at the chosen
// name is refused, never followed (Fyne's own writer creates the file
// with the umask's mode, through any link).
type safeFiles struct {
	fileRepo
	newReplacer func(path string) (Replacer, error)
}

// Replacer is a file being written to replace another whole when
// committed (app.Replacement).
type Replacer interface {
	Write(p []byte) (int, error)
	Commit() error
}

// SafeFiles makes every file the window writes through Fyne's file
// dialogs (exports, PDFs, QR images, the recovery kit, the access review)
// go through the Replacer newReplacer makes (app.NewReplacement). Call
// once the Fyne app exists.
func SafeFiles[R Replacer](newReplacer func(path string) (R, error)) {
	mk := func(path string) (Replacer, error) {
		r, err := newReplacer(path)
		if err != nil {
			return nil, err // not a nil R in a non-nil interface
		}
		return r, nil
	}
	r, err := repository.ForScheme("file")
	if err != nil {
		return
	}
	if _, done := r.(safeFiles); done {
		return
	}
	if full, ok := r.(fileRepo); ok {
		repository.Register("file", safeFiles{full, mk})
	}
}

func (r safeFiles) Writer(u fyne.URI) (fyne.URIWriteCloser, error) {
	rep, err := r.newReplacer(u.Path())
	if err != nil {
		return nil, err
	}
	return &replacingWriter{rep: rep, uri: u}, nil
}

// Appender never adds to an existing file: it writes a new one, as Writer.
func (r safeFiles) Appender(u fyne.URI) (fyne.URIWriteCloser, error) { return r.Writer(u) }

type replacingWriter struct {
	rep    Replacer
	uri    fyne.URI
	closed bool
}

func (w *replacingWriter) Write(p []byte) (int, error) { return w.rep.Write(p) }
func (w *replacingWriter) URI() fyne.URI               { return w.uri }

func (w *replacingWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.rep.Commit()
}
