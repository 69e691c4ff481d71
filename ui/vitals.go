package ui

import (
	"fmt"
	"image/color"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// Trend line colours: readable on light and dark backgrounds.
var (
	systolicColour  = color.NRGBA{R: 0xdc, G: 0x26, B: 0x26, A: 0xff}
	diastolicColour = color.NRGBA{R: 0x25, G: 0x63, B: 0xeb, A: 0xff}
	weightColour    = color.NRGBA{R: 0x0d, G: 0x94, B: 0x88, A: 0xff}
)

// vitalsTab shows the trends of blood pressure and weight, the table of
// measurements, and Add.
type vitalsTab struct {
	c    *chartScreen
	view fyne.CanvasObject
	bp   *trendChart
	wt   *trendChart
	// form is the last Add vitals form, for tests.
	form *vitalsForm
}

func newVitalsTab(c *chartScreen) *vitalsTab {
	v := &vitalsTab{c: c}
	g := c.g
	var sys, dia, wt []trendPoint
	vitals := c.chart.Vitals // oldest first
	for _, m := range vitals {
		if m.Systolic != nil && m.Diastolic != nil {
			sys = append(sys, trendPoint{m.TakenAt, float64(*m.Systolic)})
			dia = append(dia, trendPoint{m.TakenAt, float64(*m.Diastolic)})
		}
		if m.WeightKg != nil {
			wt = append(wt, trendPoint{m.TakenAt, *m.WeightKg})
		}
	}
	v.bp = newTrendChart("Blood pressure", "mmHg",
		trendSeries{"Systolic", systolicColour, sys}, trendSeries{"Diastolic", diastolicColour, dia})
	v.wt = newTrendChart("Weight", "kg", trendSeries{"Weight", weightColour, wt})

	var rows [][]string
	for i := len(vitals) - 1; i >= 0; i-- {
		m := vitals[i]
		rows = append(rows, []string{
			m.TakenAt.Local().Format(dateTimeLayout), bpText(m), intText(m.Pulse, ""), floatText(m.TempC, " °C"),
			floatText(m.WeightKg, " kg"), floatText(m.HeightCm, " cm"), bmiText(m), intText(m.SpO2, " %"),
		})
	}
	_, table := textList(g, kit.Columns{0.2, 0.12, 0.09, 0.11, 0.12, 0.12, 0.13, 0.11},
		[]string{"Taken", "BP", "Pulse", "Temp", "Weight", "Height", "BMI", "SpO2"}, rows, "No measurements yet. Use Add vitals… to record them.")
	add := widget.NewButtonWithIcon("Add vitals…", theme.ContentAddIcon(), g.act(v.add))
	add.Importance = widget.HighImportance
	charts := container.NewGridWithColumns(2, v.bp, v.wt)
	v.view = tabPage([]fyne.CanvasObject{add}, container.NewBorder(charts, nil, nil, nil, table))
	return v
}

// bmiText is the set's body-mass index, or a dash.
func bmiText(m app.Vitals) string {
	if bmi, ok := m.BMI(); ok {
		return fmt.Sprintf("%.1f", bmi)
	}
	return "—"
}

// bpText is "120/80" or a dash.
func bpText(m app.Vitals) string {
	if m.Systolic == nil || m.Diastolic == nil {
		return "—"
	}
	return fmt.Sprintf("%d/%d", *m.Systolic, *m.Diastolic)
}

func intText(x *int, unit string) string {
	if x == nil {
		return "—"
	}
	return strconv.Itoa(*x) + unit
}

func floatText(x *float64, unit string) string {
	if x == nil {
		return "—"
	}
	return strconv.FormatFloat(math.Round(*x*10)/10, 'f', -1, 64) + unit
}

// vitalsForm records a set of measurements.
type vitalsForm struct {
	f                                     *formDialog
	bp, pulse, temp, weight, height, spo2 *kit.Entry
}

var bpPattern = regexp.MustCompile(`^(\d{2,3})\s*/\s*(\d{2,3})$`)

func (v *vitalsTab) add() {
	c := v.c
	g := c.g
	vf := &vitalsForm{
		bp: newEntry(g, "for example 120/80"), pulse: newEntry(g, "beats a minute"), temp: newEntry(g, "for example 36.8"),
		weight: newEntry(g, "for example 72.5"), height: newEntry(g, "for example 168"), spo2: newEntry(g, "for example 98"),
	}
	v.form = vf
	vf.f = g.newFormDialog("Add vitals", "Save vitals", container.NewVBox(
		kit.Wrapped("Fill in what was measured; leave the rest empty."),
		widget.NewForm(
			field("Blood pressure", vf.bp, "mmHg, systolic/diastolic"),
			field("Pulse", vf.pulse, "per minute"),
			field("Temperature", vf.temp, "°C, or °F (converted)"),
			field("Weight", vf.weight, "kg"),
			field("Height", vf.height, "cm"),
			field("SpO2", vf.spo2, "%"),
		),
	), func() {
		m, msg, bad := vf.read()
		if msg != "" {
			vf.f.fail(msg)
			g.focus(bad)
			return
		}
		if err := c.s.AddVitals(g.ctx, c.mrn, m); err != nil {
			vf.f.fail("The vitals were not saved. " + plain.Error(err))
			return
		}
		vf.f.close()
		c.note(widget.SuccessImportance, "Vitals saved.")
		c.reload()
	})
	vf.f.submitOnEnter(vf.bp, vf.pulse, vf.temp, vf.weight, vf.height, vf.spo2)
	vf.f.show(fyne.NewSize(520, 520), vf.bp)
}

// read reads the form; msg says what is wrong and bad is its field.
func (vf *vitalsForm) read() (m app.Vitals, msg string, bad fyne.Focusable) {
	if t := strings.TrimSpace(vf.bp.Text); t != "" {
		g := bpPattern.FindStringSubmatch(t)
		if g == nil {
			return m, "Type the blood pressure as two numbers, systolic/diastolic, for example 120/80.", vf.bp
		}
		s, _ := strconv.Atoi(g[1])
		d, _ := strconv.Atoi(g[2])
		m.Systolic, m.Diastolic = &s, &d
	}
	ints := []struct {
		e    *kit.Entry
		name string
		dst  **int
	}{{vf.pulse, "pulse", &m.Pulse}, {vf.spo2, "SpO2", &m.SpO2}}
	for _, f := range ints {
		if t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(f.e.Text), "%")); t != "" {
			n, err := strconv.Atoi(t)
			if err != nil {
				return m, fmt.Sprintf("Type the %s as a whole number.", f.name), f.e
			}
			*f.dst = &n
		}
	}
	floats := []struct {
		e    *kit.Entry
		name string
		dst  **float64
	}{{vf.weight, "weight", &m.WeightKg}, {vf.height, "height", &m.HeightCm}}
	if t := strings.TrimSpace(vf.temp.Text); t != "" {
		c, ok := app.ParseTemperature(t)
		if !ok {
			return m, "Type the temperature as a number, in °C (36.8) or °F (98.2 °F).", vf.temp
		}
		m.TempC = &c
	}
	for _, f := range floats {
		if t := strings.TrimSpace(strings.ReplaceAll(f.e.Text, ",", ".")); t != "" {
			x, err := strconv.ParseFloat(t, 64)
			if err != nil {
				return m, fmt.Sprintf("Type the %s as a number, for example %s.", f.name, strings.TrimPrefix(f.e.PlaceHolder, "for example ")), f.e
			}
			*f.dst = &x
		}
	}
	if m.Systolic == nil && m.Pulse == nil && m.TempC == nil && m.WeightKg == nil && m.HeightCm == nil && m.SpO2 == nil {
		return m, "Fill in at least one measurement.", vf.bp
	}
	return m, "", nil
}

// trendPoint is one measurement in time.
type trendPoint struct {
	at time.Time
	v  float64
}

// trendSeries is one line of a trend chart.
type trendSeries struct {
	name   string
	colour color.Color
	points []trendPoint
}

// trendChart draws series of measurements over time with canvas lines: a
// title, a legend, value labels on the left and dates along the bottom.
type trendChart struct {
	widget.BaseWidget
	title, unit string
	series      []trendSeries
}

func newTrendChart(title, unit string, series ...trendSeries) *trendChart {
	t := &trendChart{title: title, unit: unit, series: series}
	t.ExtendBaseWidget(t)
	return t
}

// CreateRenderer builds the chart's objects.
func (t *trendChart) CreateRenderer() fyne.WidgetRenderer {
	r := &trendRenderer{t: t}
	r.Refresh()
	return r
}

// Chart margins: room for the title and legend above, value labels on
// the left and dates below.
const (
	chartTop    = 34
	chartLeft   = 44
	chartRight  = 14
	chartBottom = 24
)

type trendRenderer struct {
	t      *trendChart
	frame  *canvas.Rectangle
	title  *canvas.Text
	legend []fyne.CanvasObject // swatch, text, swatch, text...
	empty  *canvas.Text
	grid   []*canvas.Line
	yText  []*canvas.Text
	ticks  []float64
	xText  []*canvas.Text
	xTimes []time.Time
	lines  [][]*canvas.Line
	dots   [][]*canvas.Circle
	lo, hi float64
	t0, t1 time.Time
	objs   []fyne.CanvasObject
}

func (r *trendRenderer) Destroy() {}

func (r *trendRenderer) MinSize() fyne.Size { return fyne.NewSize(300, 200) }

func (r *trendRenderer) Objects() []fyne.CanvasObject { return r.objs }

// Refresh rebuilds the objects from the data and the theme.
func (r *trendRenderer) Refresh() {
	th := r.t.Theme()
	v := fyne.CurrentApp().Settings().ThemeVariant()
	fg := th.Color(theme.ColorNameForeground, v)
	faint := th.Color(theme.ColorNameSeparator, v)
	caption := th.Size(theme.SizeNameCaptionText)

	r.frame = canvas.NewRectangle(color.Transparent)
	r.frame.StrokeColor = th.Color(theme.ColorNameInputBorder, v)
	r.frame.StrokeWidth = 1
	r.frame.CornerRadius = th.Size(theme.SizeNameInputRadius)
	r.title = canvas.NewText(r.t.title+" ("+r.t.unit+")", fg)
	r.title.TextStyle = fyne.TextStyle{Bold: true}
	r.objs = []fyne.CanvasObject{r.frame, r.title}

	r.legend = nil
	if len(r.t.series) > 1 {
		for _, s := range r.t.series {
			sw := canvas.NewRectangle(s.colour)
			sw.SetMinSize(fyne.NewSize(14, 4))
			txt := canvas.NewText(s.name, fg)
			txt.TextSize = caption
			r.legend = append(r.legend, sw, txt)
		}
	}
	r.objs = append(r.objs, r.legend...)

	var all []trendPoint
	for _, s := range r.t.series {
		all = append(all, s.points...)
	}
	r.grid, r.yText, r.xText, r.lines, r.dots, r.empty = nil, nil, nil, nil, nil, nil
	if len(all) == 0 {
		r.empty = canvas.NewText("No measurements yet", th.Color(theme.ColorNamePlaceHolder, v))
		r.objs = append(r.objs, r.empty)
		return
	}
	lo, hi := all[0].v, all[0].v
	r.t0, r.t1 = all[0].at, all[0].at
	for _, p := range all {
		lo, hi = math.Min(lo, p.v), math.Max(hi, p.v)
		if p.at.Before(r.t0) {
			r.t0 = p.at
		}
		if p.at.After(r.t1) {
			r.t1 = p.at
		}
	}
	pad := math.Max((hi-lo)*0.1, 2)
	step := niceStep((hi - lo + 2*pad) / 4)
	r.lo = math.Floor((lo-pad)/step) * step
	r.hi = math.Ceil((hi+pad)/step) * step
	r.ticks = nil
	for y := r.lo; y <= r.hi+step/2; y += step {
		r.ticks = append(r.ticks, y)
		l := canvas.NewLine(faint)
		l.StrokeWidth = 1
		r.grid = append(r.grid, l)
		txt := canvas.NewText(strconv.FormatFloat(y, 'f', -1, 64), fg)
		txt.TextSize = caption
		txt.Alignment = fyne.TextAlignTrailing
		r.yText = append(r.yText, txt)
		r.objs = append(r.objs, l, txt)
	}
	r.xTimes = dateTicks(all)
	for _, at := range r.xTimes {
		txt := canvas.NewText(dateTick(at, r.t0, r.t1), fg)
		txt.TextSize = caption
		r.xText = append(r.xText, txt)
		r.objs = append(r.objs, txt)
	}
	for _, s := range r.t.series {
		var ls []*canvas.Line
		var ds []*canvas.Circle
		for i := range s.points {
			if i > 0 {
				l := canvas.NewLine(s.colour)
				l.StrokeWidth = 2
				ls = append(ls, l)
				r.objs = append(r.objs, l)
			}
			d := canvas.NewCircle(s.colour)
			ds = append(ds, d)
			r.objs = append(r.objs, d)
		}
		r.lines = append(r.lines, ls)
		r.dots = append(r.dots, ds)
	}
}

// dateTicks are the distinct dates of the points, at most five, spread
// over the range.
func dateTicks(all []trendPoint) []time.Time {
	seen := map[int64]bool{}
	var ts []time.Time
	for _, p := range all {
		if !seen[p.at.Unix()] {
			seen[p.at.Unix()] = true
			ts = append(ts, p.at)
		}
	}
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Before(ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
	if len(ts) <= 5 {
		return ts
	}
	out := make([]time.Time, 0, 5)
	for i := range 5 {
		out = append(out, ts[i*(len(ts)-1)/4])
	}
	return out
}

// dateTick formats a date label: day and month over short spans, month
// and year over long ones.
func dateTick(at, t0, t1 time.Time) string {
	if t1.Sub(t0) > 300*24*time.Hour {
		return at.Local().Format("Jan 2006")
	}
	return at.Local().Format("2 Jan")
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(x)))
	switch f := x / e; {
	case f <= 1:
		return e
	case f <= 2:
		return 2 * e
	case f <= 5:
		return 5 * e
	}
	return 10 * e
}

// Layout places everything for size.
func (r *trendRenderer) Layout(size fyne.Size) {
	r.frame.Resize(size)
	r.title.Move(fyne.NewPos(10, 6))
	// The legend goes on the right of the title row.
	x := size.Width - chartRight
	for i := len(r.legend) - 1; i >= 1; i -= 2 {
		txt := r.legend[i].(*canvas.Text)
		w := txt.MinSize().Width
		x -= w
		txt.Move(fyne.NewPos(x, 8))
		sw := r.legend[i-1]
		x -= 18
		sw.Resize(fyne.NewSize(14, 4))
		sw.Move(fyne.NewPos(x, 8+txt.MinSize().Height/2-2))
		x -= 10
	}
	plotX, plotY := float32(chartLeft), float32(chartTop)
	plotW, plotH := size.Width-chartLeft-chartRight, size.Height-chartTop-chartBottom
	if r.empty != nil {
		s := r.empty.MinSize()
		r.empty.Move(fyne.NewPos((size.Width-s.Width)/2, (size.Height-s.Height)/2))
		return
	}
	yOf := func(v float64) float32 {
		if r.hi == r.lo {
			return plotY + plotH/2
		}
		return plotY + plotH - float32((v-r.lo)/(r.hi-r.lo))*plotH
	}
	xOf := func(at time.Time) float32 {
		span := r.t1.Sub(r.t0)
		if span <= 0 {
			return plotX + plotW/2
		}
		return plotX + 8 + float32(float64(at.Sub(r.t0))/float64(span))*(plotW-16)
	}
	for i, v := range r.ticks {
		y := yOf(v)
		r.grid[i].Position1 = fyne.NewPos(plotX, y)
		r.grid[i].Position2 = fyne.NewPos(plotX+plotW, y)
		ts := r.yText[i].MinSize()
		r.yText[i].Resize(fyne.NewSize(chartLeft-8, ts.Height))
		r.yText[i].Move(fyne.NewPos(0, y-ts.Height/2))
	}
	last := float32(-1000)
	for i, txt := range r.xText {
		ts := txt.MinSize()
		cx := xOf(r.xTimes[i]) - ts.Width/2
		cx = max(plotX-4, min(cx, size.Width-ts.Width-4))
		txt.Move(fyne.NewPos(cx, plotY+plotH+4))
		// Hide a label that would overlap the one before it.
		if cx < last+6 && i > 0 {
			txt.Hide()
		} else {
			txt.Show()
			last = cx + ts.Width
		}
	}
	for si, s := range r.t.series {
		for i, p := range s.points {
			pos := fyne.NewPos(xOf(p.at), yOf(p.v))
			d := r.dots[si][i]
			d.Resize(fyne.NewSize(7, 7))
			d.Move(pos.SubtractXY(3.5, 3.5))
			if i > 0 {
				prev := s.points[i-1]
				l := r.lines[si][i-1]
				l.Position1 = fyne.NewPos(xOf(prev.at), yOf(prev.v))
				l.Position2 = pos
			}
		}
	}
}
