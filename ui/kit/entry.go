package kit

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Entry is the text field of every screen. Typing in it counts as
// activity for the idle lock, so that someone writing a long note is not
// locked out mid-sentence; Tab always moves to the next field, even from
// a multi-line one; Ctrl+Enter submits a multi-line field. A window that
// has keys of its own (Esc closing the open dialog, Ctrl+L locking) sets
// OnEscape and OnShortcut: a plain Entry swallows both while it has focus.
type Entry struct {
	widget.Entry
	// OnActivity is called on the UI thread at every key and shortcut; it
	// must not block. NewEntry sets it to Touch its Activity.
	OnActivity func()
	// OnKey, when set, sees every key first and reports whether it
	// handled it (a search field moves through its results with Up and
	// Down).
	OnKey func(k *fyne.KeyEvent) bool
	// OnEscape, when set, is given Esc and reports whether it used it.
	OnEscape func() bool
	// OnShortcut, when set, sees every shortcut but Ctrl+Enter first and
	// reports whether it handled it.
	OnShortcut func(s fyne.Shortcut) bool
}

// NewEntry is a one-line entry whose typing is activity for a (nil before
// sign-in).
func NewEntry(a Activity) *Entry {
	e := &Entry{}
	e.OnActivity = func() { Touch(a) }
	e.Wrapping = fyne.TextWrap(fyne.TextTruncateClip)
	e.ExtendBaseWidget(e)
	return e
}

// NewMultiLineEntry is a word-wrapping entry for notes.
func NewMultiLineEntry(a Activity) *Entry {
	e := &Entry{}
	e.OnActivity = func() { Touch(a) }
	e.MultiLine = true
	e.Wrapping = fyne.TextWrapWord
	e.ExtendBaseWidget(e)
	return e
}

// NewPasswordEntry is a concealed entry with an eye button that shows
// the text.
func NewPasswordEntry(a Activity) *Entry {
	e := NewEntry(a)
	e.Password = true
	e.ActionItem = newRevealer(e)
	return e
}

func (e *Entry) active() {
	if e.OnActivity != nil {
		e.OnActivity()
	}
}

// AcceptsTab is false even for a multi-line field: Tab moves to the next
// field, as everywhere else.
func (e *Entry) AcceptsTab() bool { return false }

// TypedRune counts as activity, then types r.
func (e *Entry) TypedRune(r rune) {
	e.active()
	e.Entry.TypedRune(r)
}

// TypedKey counts as activity, offers k to OnKey and Esc to OnEscape,
// then handles the key.
func (e *Entry) TypedKey(k *fyne.KeyEvent) {
	e.active()
	if e.OnKey != nil && e.OnKey(k) {
		return
	}
	if k.Name == fyne.KeyEscape && e.OnEscape != nil && e.OnEscape() {
		return
	}
	e.Entry.TypedKey(k)
}

// SubmitShortcut is Ctrl+Enter (⌘Return on macOS), which submits a
// multi-line field (Enter starts a new line in it).
var SubmitShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault}

// TypedShortcut counts as activity; Ctrl+Enter submits; other shortcuts
// go to OnShortcut first.
func (e *Entry) TypedShortcut(s fyne.Shortcut) {
	e.active()
	if s.ShortcutName() == SubmitShortcut.ShortcutName() && e.OnSubmitted != nil {
		e.OnSubmitted(e.Text)
		return
	}
	if e.OnShortcut != nil && e.OnShortcut(s) {
		return
	}
	e.Entry.TypedShortcut(s)
}

// revealer is the eye icon in a password entry. It is not focusable, so
// Tab goes from field to field.
type revealer struct {
	widget.BaseWidget
	e    *Entry
	icon *widget.Icon
}

func newRevealer(e *Entry) *revealer {
	r := &revealer{e: e, icon: widget.NewIcon(theme.VisibilityOffIcon())}
	r.ExtendBaseWidget(r)
	return r
}

// CreateRenderer draws the icon with the entry's inner padding.
func (r *revealer) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewPadded(r.icon))
}

// Cursor is the arrow, not the text cursor.
func (r *revealer) Cursor() desktop.Cursor { return desktop.DefaultCursor }

// Tapped shows or hides the text.
func (r *revealer) Tapped(*fyne.PointEvent) {
	if r.e.Disabled() {
		return
	}
	r.e.Password = !r.e.Password
	if r.e.Password {
		r.icon.SetResource(theme.VisibilityOffIcon())
	} else {
		r.icon.SetResource(theme.VisibilityIcon())
	}
	r.e.Refresh()
	if c := fyne.CurrentApp().Driver().CanvasForObject(r.e); c != nil {
		c.Focus(r.e)
	}
}
