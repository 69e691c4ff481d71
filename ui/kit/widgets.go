package kit

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Enable enables w when on is true and disables it otherwise.
func Enable(w fyne.Disableable, on bool) {
	if on {
		w.Enable()
	} else {
		w.Disable()
	}
}

// Wrapped is a word-wrapping label.
func Wrapped(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// Quiet is a wrapping italic label for hints: italic sets it apart
// without the low contrast of a grey label.
func Quiet(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Italic: true})
	l.Wrapping = fyne.TextWrapWord
	return l
}

// Heading is a large bold title.
func Heading(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.SizeName = theme.SizeNameHeadingText
	return l
}

// Subheading is a medium bold title.
func Subheading(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.SizeName = theme.SizeNameSubHeadingText
	return l
}

// Bold is a bold label that wraps.
func Bold(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.Wrapping = fyne.TextWrapWord
	return l
}

// HeaderCell is a bold column title that truncates instead of widening
// its column.
func HeaderCell(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

// StatusText is a wrapping message label that hides itself while empty,
// so an unused message takes no room.
type StatusText struct {
	widget.Label
}

// NewStatus is an empty, hidden status line in the colour of imp.
func NewStatus(imp widget.Importance) *StatusText {
	s := &StatusText{}
	s.Wrapping = fyne.TextWrapWord
	s.Importance = imp
	s.ExtendBaseWidget(s)
	s.Hide()
	return s
}

// SetText sets the message, keeping its colour, and shows the label, or
// hides it when text is empty.
func (s *StatusText) SetText(text string) {
	s.Label.SetText(text)
	if text == "" {
		s.Hide()
	} else {
		s.Show()
	}
}

// Say sets the message and its importance (colour), showing the label, or
// hiding it when text is empty.
func (s *StatusText) Say(imp widget.Importance, text string) {
	s.Importance = imp
	s.SetText(text)
}

// ErrorDialog is a dialog titled title showing text, an error already
// put in plain words, in the danger colour.
func ErrorDialog(win fyne.Window, title, text string) dialog.Dialog {
	l := Wrapped(text)
	l.Importance = widget.DangerImportance
	return dialog.NewCustom(title, "OK", container.New(FixedWidth(440), l), win)
}

// InfoDialog is a dialog titled title showing msg.
func InfoDialog(win fyne.Window, title, msg string) dialog.Dialog {
	return dialog.NewCustom(title, "OK", container.New(FixedWidth(440), Wrapped(msg)), win)
}

// ShowError shows text, an error already put in plain words, in the
// danger colour in a dialog titled title.
func ShowError(win fyne.Window, title, text string) { ErrorDialog(win, title, text).Show() }

// ShowInfo shows a message in a dialog titled title.
func ShowInfo(win fyne.Window, title, msg string) { InfoDialog(win, title, msg).Show() }
