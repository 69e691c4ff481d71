package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
)

// entry is a text field that reports typing as activity, cancels the open
// dialog on Esc and passes Ctrl+L to the window (a plain Entry swallows
// both while it has focus).
type entry struct {
	widget.Entry
	g *gui
	// onKey, when set, sees every key first and reports whether it
	// handled it (a search field moves through its results with Up and
	// Down).
	onKey func(k *fyne.KeyEvent) bool
}

func newEntry(g *gui, placeholder string) *entry {
	e := &entry{g: g}
	e.Wrapping = fyne.TextWrap(fyne.TextTruncateClip)
	e.PlaceHolder = placeholder
	e.ExtendBaseWidget(e)
	return e
}

// newPasswordEntry is a concealed entry with a button to show the text.
func newPasswordEntry(g *gui, placeholder string) *entry {
	e := newEntry(g, placeholder)
	e.Password = true
	e.ActionItem = newRevealer(e)
	return e
}

// TypedRune counts as activity, then types r.
func (e *entry) TypedRune(r rune) {
	e.g.activity()
	e.Entry.TypedRune(r)
}

// newMultiLineEntry is a word-wrapping text area rows lines high; Ctrl+Enter
// (or Shift+Enter) submits it, Enter starts a new line.
func newMultiLineEntry(g *gui, placeholder string, rows int) *entry {
	e := &entry{g: g}
	e.MultiLine = true
	e.Wrapping = fyne.TextWrapWord
	e.PlaceHolder = placeholder
	e.ExtendBaseWidget(e)
	e.SetMinRowsVisible(rows)
	return e
}

// AcceptsTab is false even for a multi-line field: Tab moves to the next
// field, as everywhere else (a note's sections are its own fields).
func (e *entry) AcceptsTab() bool { return false }

// TypedKey counts as activity; Esc cancels the open dialog.
func (e *entry) TypedKey(k *fyne.KeyEvent) {
	e.g.activity()
	if e.onKey != nil && e.onKey(k) {
		return
	}
	if k.Name == fyne.KeyEscape && e.g.escape() {
		return
	}
	e.Entry.TypedKey(k)
}

// submitShortcut is Ctrl+Enter, which submits a multi-line field.
var submitShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault}

// TypedShortcut gives ClinicVault's shortcuts (Ctrl+L, Ctrl+F, Ctrl+N) to
// the window; Ctrl+Enter submits.
func (e *entry) TypedShortcut(s fyne.Shortcut) {
	e.g.activity()
	if s.ShortcutName() == submitShortcut.ShortcutName() && e.OnSubmitted != nil {
		e.OnSubmitted(e.Text)
		return
	}
	if e.g.shortcut(s) {
		return
	}
	e.Entry.TypedShortcut(s)
}

// revealer is the eye icon in a password entry. It is not focusable, so
// Tab goes from field to field.
type revealer struct {
	widget.BaseWidget
	e    *entry
	icon *widget.Icon
}

func newRevealer(e *entry) *revealer {
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

// Tapped shows or hides the passphrase.
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

// activityCatcher wraps a screen: mouse movement over parts of it that do
// not handle hover themselves counts as activity.
type activityCatcher struct {
	widget.BaseWidget
	g       *gui
	content fyne.CanvasObject
}

func newActivityCatcher(g *gui, content fyne.CanvasObject) *activityCatcher {
	c := &activityCatcher{g: g, content: content}
	c.ExtendBaseWidget(c)
	return c
}

// CreateRenderer shows the wrapped content.
func (c *activityCatcher) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(c.content)
}

// MouseIn counts as activity.
func (c *activityCatcher) MouseIn(*desktop.MouseEvent) { c.g.activity() }

// MouseMoved counts as activity.
func (c *activityCatcher) MouseMoved(*desktop.MouseEvent) { c.g.activity() }

// MouseOut does nothing.
func (c *activityCatcher) MouseOut() {}

// strengthMeter is the live passphrase meter: five bars for the zxcvbn
// score and the policy's verdict in words.
type strengthMeter struct {
	bars    [5]*canvas.Rectangle
	verdict *widget.Label
	reason  *widget.Label
	box     fyne.CanvasObject
}

func newStrengthMeter() *strengthMeter {
	m := &strengthMeter{
		verdict: widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		reason:  kit.Wrapped(""),
	}
	bars := container.NewGridWithColumns(5)
	for i := range m.bars {
		r := canvas.NewRectangle(theme.Color(theme.ColorNameInputBorder))
		r.SetMinSize(fyne.NewSize(40, 6))
		r.CornerRadius = 3
		m.bars[i] = r
		bars.Add(r)
	}
	m.box = container.NewVBox(container.NewBorder(nil, nil, nil, m.verdict, container.NewVBox(layout.NewSpacer(), bars, layout.NewSpacer())), m.reason)
	m.set(app.Strength{}, true)
	return m
}

var strengthWords = [5]string{"Very weak", "Weak", "Fair", "Good", "Strong"}

// set shows a reading; empty means nothing has been typed yet.
func (m *strengthMeter) set(st app.Strength, empty bool) {
	lit, col := 0, theme.Color(theme.ColorNameInputBorder)
	switch {
	case empty:
		m.verdict.SetText("")
		m.reason.Importance = widget.MediumImportance
		m.reason.SetText("Use at least 12 characters. A few unrelated words work well.")
	case st.OK:
		lit, col = st.Score+1, theme.Color(theme.ColorNameSuccess)
		m.verdict.SetText(strengthWords[clampScore(st.Score)])
		m.reason.Importance = widget.SuccessImportance
		m.reason.SetText("This passphrase is accepted.")
	default:
		// Refused: never "Strong" over a passphrase that will not be
		// taken, whatever its score.
		lit, col = min(st.Score+1, 2), theme.Color(theme.ColorNameError)
		m.verdict.SetText("Not accepted")
		m.reason.Importance = widget.MediumImportance
		m.reason.SetText(st.Reason)
	}
	for i, b := range m.bars {
		if i < lit {
			b.FillColor = col
		} else {
			b.FillColor = theme.Color(theme.ColorNameInputBorder)
		}
		b.Refresh()
	}
}

func clampScore(s int) int { return min(max(s, 0), 4) }

// passphrasePair is a new passphrase, its confirmation and the meter.
type passphrasePair struct {
	g       *gui
	pass    *entry
	confirm *entry
	meter   *strengthMeter
	match   *statusText
	// names returns the user's and the practice's names for the policy.
	names    func() (user, practice string)
	onChange func()
}

func newPassphrasePair(g *gui, names func() (string, string)) *passphrasePair {
	p := &passphrasePair{
		g:       g,
		pass:    newPasswordEntry(g, ""),
		confirm: newPasswordEntry(g, ""),
		meter:   newStrengthMeter(),
		match:   newStatus(widget.DangerImportance),
		names:   names,
	}
	p.pass.OnChanged = func(string) { p.update() }
	p.confirm.OnChanged = func(string) { p.update() }
	p.pass.OnSubmitted = func(string) { p.g.focus(p.confirm) }
	return p
}

// update refreshes the meter and the match message.
func (p *passphrasePair) update() {
	user, practice := p.names()
	if p.pass.Text == "" {
		p.meter.set(app.Strength{}, true)
	} else {
		p.meter.set(p.g.v.MeasurePassphrase(p.pass.Text, user, practice), false)
	}
	if p.confirm.Text != "" && p.confirm.Text != p.pass.Text {
		p.match.SetText("The two passphrases do not match.")
	} else {
		p.match.SetText("")
	}
	if p.onChange != nil {
		p.onChange()
	}
}

// ok reports whether the passphrase is accepted and confirmed.
func (p *passphrasePair) ok() bool {
	user, practice := p.names()
	return p.pass.Text != "" && p.confirm.Text == p.pass.Text &&
		p.g.v.MeasurePassphrase(p.pass.Text, user, practice).OK
}

// clear empties both fields.
func (p *passphrasePair) clear() {
	p.pass.SetText("")
	p.confirm.SetText("")
}

// formItems returns the two fields and the meter as form rows.
func (p *passphrasePair) formItems(newLabel string) []*widget.FormItem {
	return []*widget.FormItem{
		widget.NewFormItem(newLabel, container.NewVBox(p.pass, p.meter.box)),
		widget.NewFormItem("Type it again", container.NewVBox(p.confirm, p.match)),
	}
}

// statusText is a wrapping message label that hides itself while empty,
// so an unused message takes no room.
type statusText struct {
	widget.Label
}

func newStatus(imp widget.Importance) *statusText {
	s := &statusText{}
	s.Wrapping = fyne.TextWrapWord
	s.Importance = imp
	s.ExtendBaseWidget(s)
	s.Hide()
	return s
}

// SetText sets the message and shows the label, or hides it when empty.
func (s *statusText) SetText(text string) {
	s.Label.SetText(text)
	if text == "" {
		s.Hide()
	} else {
		s.Show()
	}
}

// say sets the message and its importance (colour).
func (s *statusText) say(imp widget.Importance, text string) {
	s.Importance = imp
	s.SetText(text)
}

// column puts content in a column of width w, centred across the window
// and near its top, scrolling vertically when the window is too short.
// Steps whose height changes as the user types keep their buttons still.
func column(w float32, content fyne.CanvasObject) fyne.CanvasObject {
	return container.NewVScroll(container.New(layout.NewCustomPaddedLayout(40, 24, 0, 0),
		container.NewHBox(layout.NewSpacer(), container.New(kit.FixedWidth(w), content), layout.NewSpacer())))
}

// buttonRow is a row of buttons with some room above it.
func buttonRow(objs ...fyne.CanvasObject) fyne.CanvasObject {
	return container.New(layout.NewCustomPaddedLayout(10, 0, 0, 0), container.NewHBox(objs...))
}

// centred puts content in a column of width w in the middle of the window.
func centred(w float32, content fyne.CanvasObject) fyne.CanvasObject {
	return container.NewVScroll(container.NewCenter(container.New(kit.FixedWidth(w), content)))
}

// card is a bordered box on the window's background colour, with more
// room inside than kit.Card leaves.
func card(content fyne.CanvasObject) fyne.CanvasObject {
	return kit.Panel(theme.ColorNameBackground, 14, 18, content)
}

// whiteColor is the QR code's background in every theme.
var whiteColor color.Color = color.White
