package kittest

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// Walk visits o and everything visible drawn inside it, stopping when f
// says so; it reports whether f did.
func Walk(o fyne.CanvasObject, f func(fyne.CanvasObject) bool) bool {
	if o == nil || !o.Visible() {
		return false
	}
	if f(o) {
		return true
	}
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			if Walk(c, f) {
				return true
			}
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			if Walk(c, f) {
				return true
			}
		}
	}
	return false
}

// Roots are the canvas's layers, topmost first.
func Roots(w fyne.Window) []fyne.CanvasObject {
	c := w.Canvas()
	list := c.Overlays().List()
	out := make([]fyne.CanvasObject, 0, len(list)+1)
	for i := len(list) - 1; i >= 0; i-- {
		out = append(out, list[i])
	}
	return append(out, c.Content())
}

// FindButton finds the visible button labelled text in the topmost layer
// that has one, or nil.
func FindButton(w fyne.Window, text string) *widget.Button {
	var found *widget.Button
	for _, r := range Roots(w) {
		if Walk(r, func(o fyne.CanvasObject) bool {
			if b, ok := o.(*widget.Button); ok && b.Text == text {
				found = b
				return true
			}
			return false
		}) {
			return found
		}
	}
	return nil
}

// Button finds the visible button labelled text, failing the test when
// there is none.
func Button(t testing.TB, w fyne.Window, text string) *widget.Button {
	t.Helper()
	b := FindButton(w, text)
	if b == nil {
		t.Fatalf("no button %q", text)
	}
	return b
}

// Tap taps the visible button labelled text, which must be enabled, and
// settles.
func Tap(t testing.TB, w fyne.Window, text string) {
	t.Helper()
	Tapped(t, Button(t, w, text))
}

// Tapped taps b, which must be enabled, and settles.
func Tapped(t testing.TB, b *widget.Button) {
	t.Helper()
	if b.Disabled() {
		t.Fatalf("button %q is disabled", b.Text)
	}
	test.Tap(b)
	Settle(t)
}

// ShowsText reports whether a visible label or rich text in w contains s.
func ShowsText(w fyne.Window, s string) bool {
	for _, r := range Roots(w) {
		if Walk(r, func(o fyne.CanvasObject) bool {
			switch x := o.(type) {
			case *widget.Label:
				return strings.Contains(x.Text, s)
			case *widget.RichText:
				return strings.Contains(x.String(), s)
			}
			return false
		}) {
			return true
		}
	}
	return false
}

// TypeIn focuses e and types s into it, after what it holds.
func TypeIn(w fyne.Window, e fyne.Focusable, s string) {
	w.Canvas().Focus(e)
	typeRunes(e, s)
}

// Retype focuses e, empties it and types s into it.
func Retype(w fyne.Window, e interface {
	fyne.Focusable
	SetText(string)
}, s string) {
	w.Canvas().Focus(e)
	e.SetText("")
	typeRunes(e, s)
}

// typeRunes types s into e, rune by rune.
func typeRunes(e fyne.Focusable, s string) {
	for _, r := range s {
		e.TypedRune(r)
	}
}
