package kit

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
)

// Entry is a text entry whose typing counts as activity for the idle lock
// of a session (nil before sign-in): someone writing a long review note
// is not locked out mid-sentence.
type Entry struct {
	widget.Entry
	s *app.Session
}

// NewEntry is a one-line entry.
func NewEntry(s *app.Session) *Entry {
	e := &Entry{s: s}
	e.Wrapping = fyne.TextWrap(fyne.TextTruncateClip)
	e.ExtendBaseWidget(e)
	return e
}

// NewMultiLineEntry is an entry for notes.
func NewMultiLineEntry(s *app.Session) *Entry {
	e := &Entry{s: s}
	e.MultiLine = true
	e.Wrapping = fyne.TextWrapWord
	e.ExtendBaseWidget(e)
	return e
}

// NewPasswordEntry is a concealed entry (Fyne adds the show button).
func NewPasswordEntry(s *app.Session) *Entry {
	e := NewEntry(s)
	e.Password = true
	return e
}

// TypedRune counts as activity, then types r.
func (e *Entry) TypedRune(r rune) {
	Touch(e.s)
	e.Entry.TypedRune(r)
}

// TypedKey counts as activity, then handles the key.
func (e *Entry) TypedKey(k *fyne.KeyEvent) {
	Touch(e.s)
	e.Entry.TypedKey(k)
}
