package devices

import (
	"context"
	"errors"
	"fmt"
	"image/color"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

var (
	// queue, when not nil, receives the UI work of other goroutines
	// instead of fyne.Do. Tests set it before building any screen and run
	// the work themselves: the test driver's fyne.Do runs it at once on
	// the calling goroutine, which would race with the test's own use of
	// the widgets.
	queue chan func()
	// pending counts background work whose result has not yet reached the
	// UI; tests wait for it.
	pending atomic.Int64
	// now is the clock for times shown and for a pairing code's expiry;
	// tests set the vault's.
	now = time.Now
	// poll is how often pairing looks for the other computer's answer.
	poll = 500 * time.Millisecond
)

// post runs f on the UI thread; it may be called from any goroutine.
func post(f func()) {
	if queue != nil {
		queue <- f
		return
	}
	fyne.Do(f)
}

// background runs work off the UI thread, then done on it.
func background(work func(), done func()) {
	pending.Add(1)
	go func() {
		work()
		post(func() {
			defer pending.Add(-1)
			done()
		})
	}()
}

// act wraps a button action so that it counts as activity for the idle
// lock. The session is told from another goroutine: during a sync pass
// it is busy, and the UI must not wait for it.
func act(s *app.Session, f func()) func() {
	return func() {
		if s != nil {
			go s.Touch()
		}
		f()
	}
}

// closeOnLock hides d when the session locks, so that no code, number
// or question stays on screen over the sign-in screen.
func closeOnLock(s *app.Session, d interface{ Hide() }) {
	go func() {
		var once sync.Once
		hide := func() { once.Do(func() { post(d.Hide) }) }
		s.OnLock(hide)
		if s.Locked() { // locked before the hook was in place
			hide()
		}
	}()
}

// unreachable is what the screens say when the folder is not there.
const unreachable = "The sync folder cannot be reached; changes wait here and go out when it is back."

// plain turns an error from app or sync into a sentence for the screen.
func plain(err error) string {
	if err == nil {
		return ""
	}
	var pe *app.PolicyError
	switch {
	case errors.Is(err, cvsync.ErrUnreachable):
		return unreachable
	case errors.Is(err, context.Canceled):
		return "Cancelled."
	case errors.As(err, &pe):
		return sentence(pe.Reason)
	case errors.Is(err, app.ErrLocked):
		return "The session is locked. Sign in again."
	case errors.Is(err, app.ErrEnrollTOTP):
		return "Set up your authenticator app again first (an admin reset it)."
	case errors.Is(err, cvsync.ErrPairingExpired):
		return "The code has expired: a code works for 10 minutes. Ask the admin for a new one. (If it was made just now, check that this computer's date and time are right.)"
	case errors.Is(err, app.ErrPairingTimeout):
		return "The other computer did not answer before the code expired (10 minutes). Start again with a new code."
	case errors.Is(err, app.ErrVaultExists):
		return "This computer already holds a ClinicVault vault, or its data folder is not empty. A computer joins a practice only with an empty data folder."
	case errors.Is(err, app.ErrNotPermitted):
		why := strings.TrimSuffix(err.Error(), ": "+app.ErrNotPermitted.Error())
		if _, perr := app.ParseRole(why); perr == nil || why == err.Error() {
			return "Only an admin can do this."
		}
		return sentence(why)
	case errors.Is(err, cvsync.ErrPairing):
		why := strings.TrimSuffix(err.Error(), ": "+cvsync.ErrPairing.Error())
		if why == err.Error() {
			return "The code does not match. Check it for typing mistakes, or ask the admin for a new one."
		}
		if strings.HasPrefix(why, "no invitation for that code") {
			return "There is no invitation for this code in that folder. Check the code, and that both computers use the same sync folder."
		}
		return sentence(why)
	}
	msg := err.Error()
	for _, sentinel := range []error{app.ErrUsage, app.ErrInvalid, app.ErrNotFound} {
		msg = strings.TrimSuffix(msg, ": "+sentinel.Error())
	}
	msg = strings.TrimPrefix(msg, "sync: ")
	if i := strings.Index(msg, ": store: "); i > 0 {
		msg = msg[:i]
	}
	return sentence(msg)
}

// sentence capitalises s and ends it with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "!") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}

// goDuration matches a Go duration as app writes it in problems ("7m0s").
var goDuration = regexp.MustCompile(`\b(?:(\d+)h)?(?:(\d+)m)?(\d+(?:\.\d+)?)s\b`)

// humanDurations rewrites Go durations in s in words: "7m0s" becomes
// "7 minutes", "1h2m3s" "1 hour 2 minutes".
func humanDurations(s string) string {
	return goDuration.ReplaceAllStringFunc(s, func(m string) string {
		p := goDuration.FindStringSubmatch(m)
		h, _ := strconv.Atoi(p[1])
		mi, _ := strconv.Atoi(p[2])
		sec, _ := strconv.ParseFloat(p[3], 64)
		var parts []string
		if h > 0 {
			parts = append(parts, plural(h, "hour"))
		}
		if mi > 0 {
			parts = append(parts, plural(mi, "minute"))
		}
		if s := int(sec + 0.5); s > 0 && h == 0 {
			parts = append(parts, plural(s, "second"))
		}
		if len(parts) == 0 {
			return "less than a second"
		}
		return strings.Join(parts, " ")
	})
}

// plural says "1 minute" or "3 minutes" (for words that take an s).
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// ago says how long before now t was, roughly.
func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now().Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 14*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
	return "on " + day(t)
}

// day is a date as the screens show it.
func day(t time.Time) string {
	return t.Local().Format("2 Jan 2006")
}

// clockTime is a time of day as the screens show it.
func clockTime(t time.Time) string {
	return t.Local().Format("15:04")
}

func enable(w fyne.Disableable, on bool) {
	if on {
		w.Enable()
	} else {
		w.Disable()
	}
}

// wrapped is a word-wrapping label.
func wrapped(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// quiet is a wrapping italic label for hints: italic sets it apart
// without the low contrast of a grey label.
func quiet(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Italic: true})
	l.Wrapping = fyne.TextWrapWord
	return l
}

// heading is a large bold title.
func heading(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.SizeName = theme.SizeNameHeadingText
	return l
}

// subheading is a medium bold title.
func subheading(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.SizeName = theme.SizeNameSubHeadingText
	return l
}

// bold is a bold label that wraps.
func bold(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.Wrapping = fyne.TextWrapWord
	return l
}

// headerCell is a bold column title.
func headerCell(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

// sizeNameBig is the text size of a pairing code or fingerprint.
const sizeNameBig fyne.ThemeSizeName = "clinicvault.devices.big"

// bigTheme is the app's theme with a large size for sizeNameBig; it asks
// the app for its theme each time, so it follows a change of theme.
type bigTheme struct{}

func (bigTheme) base() fyne.Theme { return fyne.CurrentApp().Settings().Theme() }

// Color is the app theme's.
func (b bigTheme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	return b.base().Color(n, v)
}

// Font is the app theme's.
func (b bigTheme) Font(s fyne.TextStyle) fyne.Resource { return b.base().Font(s) }

// Icon is the app theme's.
func (b bigTheme) Icon(n fyne.ThemeIconName) fyne.Resource { return b.base().Icon(n) }

// Size is 40 for sizeNameBig, else the app theme's.
func (b bigTheme) Size(n fyne.ThemeSizeName) float32 {
	if n == sizeNameBig {
		return 40
	}
	return b.base().Size(n)
}

// bigText shows a code or a fingerprint large, in a monospaced bold face,
// centred; the label can be selected and copied.
type bigText struct {
	label *widget.Label
	view  fyne.CanvasObject
}

func newBigText(text string) *bigText {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignCenter, fyne.TextStyle{Bold: true, Monospace: true})
	l.SizeName = sizeNameBig
	l.Selectable = true
	return &bigText{label: l, view: container.NewThemeOverride(l, bigTheme{})}
}

// statusText is a wrapping message label that hides itself while empty,
// so an unused message takes no room.
type statusText struct {
	widget.Label
}

func newStatus() *statusText {
	s := &statusText{}
	s.Wrapping = fyne.TextWrapWord
	s.ExtendBaseWidget(s)
	s.Hide()
	return s
}

// say sets the message and its importance (colour), showing the label, or
// hiding it when text is empty.
func (s *statusText) say(imp widget.Importance, text string) {
	s.Importance = imp
	s.Label.SetText(text)
	if text == "" {
		s.Hide()
	} else {
		s.Show()
	}
}

// fixedWidth lays its objects out at width w (or the space given, if
// less) so wrapping labels in a dialog keep a sensible width.
type fixedWidth struct{ w float32 }

// MinSize is w wide and as tall as the tallest object at that width.
func (f fixedWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		if o.Visible() {
			h = max(h, o.MinSize().Height)
		}
	}
	return fyne.NewSize(f.w, h)
}

// Layout gives every object the whole area.
func (f fixedWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// columns lays objects side by side with widths in proportion to its
// weights; each is as tall as the tallest at its width.
type columns []float32

// MinSize is the sum of the objects' widths and the tallest height.
func (c columns) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var w, h float32
	for _, o := range objs {
		m := o.MinSize()
		w += m.Width
		h = max(h, m.Height)
	}
	return fyne.NewSize(w, h)
}

// Layout divides the width by the weights.
func (c columns) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	var total float32
	for i := range objs {
		total += c[i%len(c)]
	}
	x := float32(0)
	for i, o := range objs {
		w := size.Width * c[i%len(c)] / total
		o.Move(fyne.NewPos(x, 0))
		o.Resize(fyne.NewSize(w, size.Height))
		x += w
	}
}

// page is a screen that scrolls vertically, with room on the right for the
// scroll bar.
func page(content fyne.CanvasObject) fyne.CanvasObject {
	return container.NewVScroll(container.New(layout.NewCustomPaddedLayout(0, 12, 0, 14), content))
}

// buttonRow is a row of buttons with some room above it.
func buttonRow(objs ...fyne.CanvasObject) fyne.CanvasObject {
	return container.New(layout.NewCustomPaddedLayout(6, 0, 0, 0), container.NewHBox(objs...))
}

// panel is a bordered box around content; its colours follow the theme.
type panel struct {
	widget.BaseWidget
	content fyne.CanvasObject
}

// card puts content in a bordered box.
func card(content fyne.CanvasObject) fyne.CanvasObject {
	p := &panel{content: content}
	p.ExtendBaseWidget(p)
	return p
}

// CreateRenderer draws the box behind the padded content.
func (p *panel) CreateRenderer() fyne.WidgetRenderer {
	bg := canvas.NewRectangle(color.Transparent)
	bg.StrokeWidth = 1
	r := &panelRenderer{p: p, bg: bg, inner: container.New(layout.NewCustomPaddedLayout(10, 10, 14, 14), p.content)}
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
	r.bg.FillColor = th.Color(theme.ColorNameBackground, v)
	r.bg.StrokeColor = th.Color(theme.ColorNameInputBorder, v)
	r.bg.CornerRadius = th.Size(theme.SizeNameInputRadius)
	r.bg.Refresh()
	r.inner.Refresh()
}

// tone is the colour of a notice.
type tone int

const (
	toneInfo tone = iota
	toneOK
	toneWarning
	toneDanger
)

// colorName is the theme colour of a tone.
func (t tone) colorName() fyne.ThemeColorName {
	switch t {
	case toneOK:
		return theme.ColorNameSuccess
	case toneWarning:
		return theme.ColorNameWarning
	case toneDanger:
		return theme.ColorNameError
	}
	return theme.ColorNamePrimary
}

// icon is the status icon of a tone, in its colour.
func (t tone) icon() fyne.Resource {
	switch t {
	case toneOK:
		return theme.NewSuccessThemedResource(theme.ConfirmIcon())
	case toneWarning:
		return theme.NewWarningThemedResource(theme.WarningIcon())
	case toneDanger:
		return theme.NewErrorThemedResource(theme.ErrorIcon())
	}
	return theme.NewPrimaryThemedResource(theme.InfoIcon())
}

// notice is a coloured box: a stripe and a tint of the tone's colour
// behind an icon, a bold title and wrapped text. Its colours follow the
// theme.
type notice struct {
	widget.BaseWidget
	tone  tone
	icon  *widget.Icon
	title *widget.Label
	text  *widget.Label
}

func newNotice(t tone, title, text string) *notice {
	n := &notice{tone: t, icon: widget.NewIcon(t.icon()), title: bold(title), text: wrapped(text)}
	n.ExtendBaseWidget(n)
	n.sync()
	return n
}

// set changes the tone and words.
func (n *notice) set(t tone, title, text string) {
	n.tone = t
	n.icon.SetResource(t.icon())
	n.title.SetText(title)
	n.text.SetText(text)
	n.sync()
	n.Refresh()
}

// sync hides the title or text when empty.
func (n *notice) sync() {
	for _, l := range []*widget.Label{n.title, n.text} {
		if l.Text == "" {
			l.Hide()
		} else {
			l.Show()
		}
	}
}

// CreateRenderer draws the tint, the stripe and the padded content.
func (n *notice) CreateRenderer() fyne.WidgetRenderer {
	bg := canvas.NewRectangle(color.Transparent)
	stripe := canvas.NewRectangle(color.Transparent)
	body := container.New(tightVBox{-6}, n.title, n.text)
	iconBox := container.NewVBox(container.New(layout.NewCustomPaddedLayout(6, 0, 0, 0), n.icon))
	content := container.New(layout.NewCustomPaddedLayout(6, 6, 14, 10), container.NewBorder(nil, nil, iconBox, nil, body))
	r := &noticeRenderer{n: n, bg: bg, stripe: stripe, content: content}
	r.Refresh()
	return r
}

type noticeRenderer struct {
	n       *notice
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

// tightVBox stacks the visible objects with gap between them (negative
// to draw labels' own padding closer together).
type tightVBox struct{ gap float32 }

// MinSize is the widest object and the heights with the gaps.
func (v tightVBox) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var w, h float32
	n := 0
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		m := o.MinSize()
		w = max(w, m.Width)
		h += m.Height
		n++
	}
	if n > 1 {
		h += v.gap * float32(n-1)
	}
	return fyne.NewSize(w, h)
}

// Layout stacks the objects at full width.
func (v tightVBox) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	y := float32(0)
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		if o.Size().Width != size.Width {
			o.Resize(fyne.NewSize(size.Width, o.Size().Height))
		}
		h := o.MinSize().Height
		o.Move(fyne.NewPos(0, y))
		o.Resize(fyne.NewSize(size.Width, h))
		y += h + v.gap
	}
}

// showError shows err in plain words in a dialog titled title.
func showError(win fyne.Window, title string, err error) {
	l := wrapped(plain(err))
	l.Importance = widget.DangerImportance
	dialog.NewCustom(title, "OK", container.New(fixedWidth{440}, l), win).Show()
}

// showInfo shows a message in a dialog titled title.
func showInfo(win fyne.Window, title, msg string) {
	dialog.NewCustom(title, "OK", container.New(fixedWidth{440}, wrapped(msg)), win).Show()
}
