package kit

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Tone is the colour of a notice.
type Tone int

// The tones, from the theme's primary, success, warning and error
// colours.
const (
	ToneInfo Tone = iota
	ToneOK
	ToneWarning
	ToneDanger
)

// colorName is the theme colour of a tone.
func (t Tone) colorName() fyne.ThemeColorName {
	switch t {
	case ToneOK:
		return theme.ColorNameSuccess
	case ToneWarning:
		return theme.ColorNameWarning
	case ToneDanger:
		return theme.ColorNameError
	}
	return theme.ColorNamePrimary
}

// Icon is the status icon of the tone, in its colour.
func (t Tone) Icon() fyne.Resource {
	switch t {
	case ToneOK:
		return theme.NewSuccessThemedResource(theme.ConfirmIcon())
	case ToneWarning:
		return theme.NewWarningThemedResource(theme.WarningIcon())
	case ToneDanger:
		return theme.NewErrorThemedResource(theme.ErrorIcon())
	}
	return theme.NewPrimaryThemedResource(theme.InfoIcon())
}

// Notice is a coloured box: a stripe and a tint of the tone's colour
// behind an icon, a bold title, wrapped text and optional buttons. Its
// colours follow the theme.
type Notice struct {
	widget.BaseWidget
	tone  Tone
	icon  *widget.Icon
	title *widget.Label
	text  *widget.Label
	extra fyne.CanvasObject
	// Below, when set before the notice is drawn, goes under the text.
	Below fyne.CanvasObject
}

// NewNotice is a notice in tone t; extra, when given, are buttons on its
// right. An empty title or text takes no room.
func NewNotice(t Tone, title, text string, extra ...fyne.CanvasObject) *Notice {
	n := &Notice{tone: t, icon: widget.NewIcon(t.Icon()), title: Bold(title), text: Wrapped(text)}
	if len(extra) > 0 {
		n.extra = container.NewHBox(extra...)
	}
	n.ExtendBaseWidget(n)
	n.sync()
	return n
}

// Set changes the tone and words.
func (n *Notice) Set(t Tone, title, text string) {
	n.tone = t
	n.icon.SetResource(t.Icon())
	n.title.SetText(title)
	n.text.SetText(text)
	n.sync()
	n.Refresh()
}

// Tone is the notice's tone.
func (n *Notice) Tone() Tone { return n.tone }

// Title is the notice's title.
func (n *Notice) Title() string { return n.title.Text }

// Text is the notice's text.
func (n *Notice) Text() string { return n.text.Text }

// sync hides the title or text when empty.
func (n *Notice) sync() {
	for _, l := range []*widget.Label{n.title, n.text} {
		if l.Text == "" {
			l.Hide()
		} else {
			l.Show()
		}
	}
}

// CreateRenderer draws the tint, the stripe and the padded content.
func (n *Notice) CreateRenderer() fyne.WidgetRenderer {
	bg := canvas.NewRectangle(color.Transparent)
	stripe := canvas.NewRectangle(color.Transparent)
	stripe.SetMinSize(fyne.NewSize(5, 0))
	body := container.New(TightVBox(-6), n.title, n.text)
	if n.Below != nil {
		body.Add(n.Below)
	}
	var right fyne.CanvasObject
	if n.extra != nil {
		right = container.NewVBox(layout.NewSpacer(), n.extra, layout.NewSpacer())
	}
	iconBox := container.NewVBox(container.New(layout.NewCustomPaddedLayout(6, 0, 0, 0), n.icon))
	content := container.New(layout.NewCustomPaddedLayout(6, 6, 14, 10),
		container.NewBorder(nil, nil, iconBox, right, body))
	r := &noticeRenderer{n: n, bg: bg, stripe: stripe, content: content}
	r.Refresh()
	return r
}

type noticeRenderer struct {
	n       *Notice
	bg      *canvas.Rectangle
	stripe  *canvas.Rectangle
	content *fyne.Container
}

// Destroy does nothing.
func (r *noticeRenderer) Destroy() {}

// Layout fills the size with the tint and content; the stripe is on the
// left.
func (r *noticeRenderer) Layout(size fyne.Size) {
	r.bg.Resize(size)
	r.stripe.Move(fyne.NewPos(0, 0))
	r.stripe.Resize(fyne.NewSize(5, size.Height))
	r.content.Resize(size)
}

// MinSize is the padded content's.
func (r *noticeRenderer) MinSize() fyne.Size { return r.content.MinSize() }

// Objects are the tint, the stripe and the content.
func (r *noticeRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.bg, r.stripe, r.content}
}

// Refresh takes the colours from the current theme.
func (r *noticeRenderer) Refresh() {
	th := r.n.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	c := color.NRGBAModel.Convert(th.Color(r.n.tone.colorName(), v)).(color.NRGBA)
	r.stripe.FillColor = c
	tint := c
	tint.A = 0x22
	r.bg.FillColor = tint
	r.bg.CornerRadius = th.Size(theme.SizeNameInputRadius)
	r.stripe.Refresh()
	r.bg.Refresh()
	r.content.Refresh()
}

// panel is a bordered box around content; its colours follow the theme.
type panel struct {
	widget.BaseWidget
	fill       fyne.ThemeColorName
	padV, padH float32
	content    fyne.CanvasObject
}

// Card puts content in a bordered box whose colours follow the theme.
func Card(content fyne.CanvasObject) fyne.CanvasObject {
	return Panel(theme.ColorNameBackground, 10, 14, content)
}

// Panel puts content in a bordered box filled with the theme colour fill,
// padded by padV above and below and padH left and right; its colours
// follow the theme.
func Panel(fill fyne.ThemeColorName, padV, padH float32, content fyne.CanvasObject) fyne.CanvasObject {
	p := &panel{fill: fill, padV: padV, padH: padH, content: content}
	p.ExtendBaseWidget(p)
	return p
}

// CreateRenderer draws the box behind the padded content.
func (p *panel) CreateRenderer() fyne.WidgetRenderer {
	bg := canvas.NewRectangle(color.Transparent)
	bg.StrokeWidth = 1
	r := &panelRenderer{p: p, bg: bg, inner: container.New(layout.NewCustomPaddedLayout(p.padV, p.padV, p.padH, p.padH), p.content)}
	r.Refresh()
	return r
}

type panelRenderer struct {
	p     *panel
	bg    *canvas.Rectangle
	inner *fyne.Container
}

// Destroy does nothing.
func (r *panelRenderer) Destroy() {}

// Layout fills the size with the box and the content.
func (r *panelRenderer) Layout(size fyne.Size) {
	r.bg.Resize(size)
	r.inner.Resize(size)
}

// MinSize is the padded content's.
func (r *panelRenderer) MinSize() fyne.Size { return r.inner.MinSize() }

// Objects are the box and the content.
func (r *panelRenderer) Objects() []fyne.CanvasObject { return []fyne.CanvasObject{r.bg, r.inner} }

// Refresh takes the colours from the current theme.
func (r *panelRenderer) Refresh() {
	th := r.p.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	r.bg.FillColor = th.Color(r.p.fill, v)
	r.bg.StrokeColor = th.Color(theme.ColorNameInputBorder, v)
	r.bg.CornerRadius = th.Size(theme.SizeNameInputRadius)
	r.bg.Refresh()
	r.inner.Refresh()
}
