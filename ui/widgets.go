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

// newEntry is a one-line field of the window: typing in it is activity,
// Esc cancels the open dialog and ClinicVault's shortcuts (Ctrl+L…) reach
// the window.
func newEntry(g *gui, placeholder string) *kit.Entry {
	return g.own(kit.NewEntry(nil), placeholder)
}

// newPasswordEntry is a concealed field with a button to show the text.
func newPasswordEntry(g *gui, placeholder string) *kit.Entry {
	return g.own(kit.NewPasswordEntry(nil), placeholder)
}

// newMultiLineEntry is a word-wrapping text area rows lines high; Ctrl+Enter
// (or Shift+Enter) submits it, Enter starts a new line.
func newMultiLineEntry(g *gui, placeholder string, rows int) *kit.Entry {
	e := g.own(kit.NewMultiLineEntry(nil), placeholder)
	e.SetMinRowsVisible(rows)
	return e
}

// own gives e to the window: its typing is the window's activity, Esc
// and shortcuts go to the window first.
func (g *gui) own(e *kit.Entry, placeholder string) *kit.Entry {
	e.PlaceHolder = placeholder
	e.OnActivity = g.activity
	e.OnEscape = g.escape
	e.OnShortcut = g.shortcut
	return e
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
	pass    *kit.Entry
	confirm *kit.Entry
	meter   *strengthMeter
	match   *kit.StatusText
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
		match:   kit.NewStatus(widget.DangerImportance),
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
