package admin

import (
	"errors"
	"fmt"
	"image/color"
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
)

// Screen names passed to goTo. The Security Center passes a CheckItem's
// Fix value, which is one of these.
const (
	ScreenUsers        = "users"
	ScreenBackups      = "backups"
	ScreenTraining     = "training"
	ScreenEmergency    = "emergency"
	ScreenAccessReview = "access-review"
	ScreenAudit        = "audit"
	// ScreenSecurity is the Security Center itself (the reminders lead
	// there).
	ScreenSecurity = "security"
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
// lock.
func act(s *app.Session, f func()) func() {
	return func() {
		touch(s)
		f()
	}
}

// touch tells the session the user is active, without waiting: a backup
// or a verification holds the session for its whole length, and the UI
// thread must not wait for it.
func touch(s *app.Session) { go s.Touch() }

// progressFeed passes backup progress from a worker goroutine to the UI,
// keeping at most one update queued: the worker reports thousands of
// times, the screen needs only the latest.
type progressFeed struct {
	mu     sync.Mutex
	last   app.BackupProgress
	queued bool
	show   func(app.BackupProgress)
}

// report records p and queues a UI update unless one is waiting.
func (f *progressFeed) report(p app.BackupProgress) {
	f.mu.Lock()
	f.last = p
	if f.queued {
		f.mu.Unlock()
		return
	}
	f.queued = true
	f.mu.Unlock()
	post(func() {
		f.mu.Lock()
		p := f.last
		f.queued = false
		f.mu.Unlock()
		f.show(p)
	})
}

// progressView is a stage line and a progress bar, hidden while idle.
type progressView struct {
	stage *widget.Label
	bar   *widget.ProgressBar
	box   *fyne.Container
}

func newProgressView() *progressView {
	p := &progressView{stage: widget.NewLabel(""), bar: widget.NewProgressBar()}
	p.stage.Truncation = fyne.TextTruncateEllipsis
	p.box = container.NewVBox(p.stage, p.bar)
	p.box.Hide()
	return p
}

// start shows the view at zero with a first stage.
func (p *progressView) start(stage string) {
	p.stage.SetText(stage)
	p.bar.SetValue(0)
	p.box.Show()
}

// set shows one progress report.
func (p *progressView) set(bp app.BackupProgress) {
	if bp.Stage != "" {
		p.stage.SetText(bp.Stage + "…")
	}
	if bp.Total > 0 {
		p.bar.SetValue(min(float64(bp.Done)/float64(bp.Total), 1))
	}
}

// stop hides the view.
func (p *progressView) stop() { p.box.Hide() }

// plain turns an error from app into a sentence for the screen. app's
// messages are already plain English; this drops the categories that
// wrapping adds (": invalid request", "store: ") and replaces the few
// terse ones.
func plain(err error) string {
	if err == nil {
		return ""
	}
	var pe *app.PolicyError
	switch {
	case errors.As(err, &pe):
		return sentence(pe.Reason)
	case errors.Is(err, app.ErrNotPermitted):
		return "Your role does not allow this. Ask an admin."
	case errors.Is(err, app.ErrLocked):
		return "The session is locked. Sign in again."
	case errors.Is(err, app.ErrEnrollTOTP):
		return "Set up your authenticator app again first (an admin reset it)."
	case errors.Is(err, app.ErrSignInRefused):
		return "The name, passphrase or code is not right for this backup. Use an admin's details as they were when the backup was made."
	}
	msg := err.Error()
	const damaged = "store: the backup is damaged, truncated or belongs to another vault"
	switch {
	case strings.Contains(msg, damaged):
		detail := strings.TrimSuffix(strings.TrimSuffix(msg, damaged), ": ")
		out := "The backup file is damaged or incomplete, or it belongs to another vault"
		if detail != "" && detail != msg {
			out += " (" + detail + ")"
		}
		return out + "."
	case strings.Contains(msg, "store: not a ClinicVault backup file"):
		return "This file is not a ClinicVault backup."
	}
	for _, sentinel := range []error{app.ErrUsage, app.ErrBadRecoveryKey, app.ErrPolicy, app.ErrInvalid, app.ErrNotFound} {
		msg = strings.TrimSuffix(msg, ": "+sentinel.Error())
	}
	msg = strings.ReplaceAll(msg, "store: ", "")
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

// day is a date as the screens show it.
func day(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2 Jan 2006")
}

// dayTime is a date and time as the screens show it.
func dayTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2 Jan 2006 15:04")
}

// ago says how long before now t was, roughly.
func ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	default:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
}

// plural says "1 lesson" or "3 lessons".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// humanSize says a file size in kB, MB or GB.
func humanSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d bytes", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.0f kB", float64(n)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	}
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

// cell is a list cell that truncates instead of widening the row.
func cell() *widget.Label {
	l := widget.NewLabel("")
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

// headerCell is a bold column title.
func headerCell(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

// setCell sets a cell's text and colour.
func setCell(l *widget.Label, text string, imp widget.Importance) {
	l.Text = text
	l.Importance = imp
	l.Refresh()
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

// page is a screen that scrolls vertically, with room on the right for the
// scroll bar.
func page(content fyne.CanvasObject) fyne.CanvasObject {
	return container.NewVScroll(container.New(layout.NewCustomPaddedLayout(0, 12, 0, 14), content))
}

// buttonRow is a row of buttons with some room above it.
func buttonRow(objs ...fyne.CanvasObject) fyne.CanvasObject {
	return container.New(layout.NewCustomPaddedLayout(6, 0, 0, 0), container.NewHBox(objs...))
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

// minHeight asks for at least h of height (for a list or table inside a
// scrolling page, whose own minimum is one row).
type minHeight struct{ h float32 }

// MinSize is the objects' width and at least h.
func (m minHeight) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var w, h float32
	for _, o := range objs {
		s := o.MinSize()
		w, h = max(w, s.Width), max(h, s.Height)
	}
	return fyne.NewSize(w, max(h, m.h))
}

// Layout gives every object the whole area.
func (m minHeight) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
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

// columns lays objects side by side with widths in proportion to its
// weights.
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
// behind an icon, a bold title, wrapped text and optional buttons. Its
// colours follow the theme.
type notice struct {
	widget.BaseWidget
	tone  tone
	icon  *widget.Icon
	title *widget.Label
	text  *widget.Label
	extra fyne.CanvasObject
	// below, when set before the notice is drawn, goes under the text.
	below fyne.CanvasObject
}

func newNotice(t tone, title, text string, extra ...fyne.CanvasObject) *notice {
	n := &notice{tone: t, icon: widget.NewIcon(t.icon()), title: bold(title), text: wrapped(text)}
	if len(extra) > 0 {
		n.extra = container.NewHBox(extra...)
	}
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
	stripe.SetMinSize(fyne.NewSize(5, 0))
	body := container.New(tightVBox{-6}, n.title, n.text)
	if n.below != nil {
		body.Add(n.below)
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
