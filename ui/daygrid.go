package ui

import (
	"image/color"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
)

// The day grid: a column per clinician, a row per slot of the day, the
// appointments drawn over the slots they take. The keyboard moves a
// cursor over slots and appointments; Enter books a free slot or opens
// the appointment's chart.

const (
	// slotMinutes is the length of one row of the grid.
	slotMinutes = 15
	// slotHeight is one row's height.
	slotHeight = float32(30)
	// gridTimeWidth is the width of the times down the left.
	gridTimeWidth = float32(56)
	// gridMinColumn is the narrowest a clinician's column gets.
	gridMinColumn = float32(90)
	// dayFrom and dayTo are the hours the grid shows at least.
	dayFrom, dayTo = 8 * 60, 18 * 60
)

// gridBlock is one appointment placed in the grid.
type gridBlock struct {
	appt  *app.Appointment
	col   int
	lane  int // its place among the appointments that overlap it
	lanes int // how many lanes the overlapping group takes
	from  int // minutes from midnight
	to    int
}

// dayGrid draws the day and takes the keyboard and the mouse.
type dayGrid struct {
	widget.BaseWidget

	day     time.Time // local midnight
	columns []string
	from    int // first minute shown, a whole hour
	to      int // last minute shown, a whole hour
	blocks  []gridBlock
	now     func() time.Time

	// The cursor: a slot in a column, and which of the appointments
	// there when several overlap.
	col, slot, lane int
	focused         bool
	// selID is the selected appointment (the one under the cursor).
	selID string

	onSelect func(id string)                      // "" when the cursor is on a free slot
	onBook   func(clinician string, at time.Time) // a free slot chosen (Enter, a tap)
	onOpen   func(id string)                      // Enter or a double tap on an appointment
	onFocus  func()                               // the grid took the focus (scroll the cursor into view)
	onTouch  func()                               // a person's input
}

func newDayGrid(now func() time.Time) *dayGrid {
	g := &dayGrid{now: now, from: dayFrom, to: dayTo}
	g.ExtendBaseWidget(g)
	return g
}

// set shows a day's appointments in the clinicians' columns. Cancelled
// appointments and no-shows take no time and are listed elsewhere.
func (g *dayGrid) set(day time.Time, columns []string, appts []app.Appointment) {
	g.day = day
	g.columns = columns
	g.from, g.to = dayFrom, dayTo
	colOf := map[string]int{}
	for i, c := range columns {
		colOf[c] = i
	}
	g.blocks = g.blocks[:0]
	for i := range appts {
		a := &appts[i]
		col, ok := colOf[a.ClinicianName]
		if !ok || !occupies(a.Status) {
			continue
		}
		st := a.Start.Local()
		from := int(st.Sub(day).Minutes())
		to := from + a.Minutes
		if to > 24*60 {
			to = 24 * 60
		}
		g.blocks = append(g.blocks, gridBlock{appt: a, col: col, from: from, to: to})
		g.from = min(g.from, from/60*60)
		g.to = max(g.to, (to+59)/60*60)
	}
	sort.SliceStable(g.blocks, func(i, j int) bool {
		a, b := g.blocks[i], g.blocks[j]
		if a.col != b.col {
			return a.col < b.col
		}
		return a.from < b.from
	})
	// Lanes: overlapping appointments share their column side by side.
	for start := 0; start < len(g.blocks); {
		end, reach := start+1, g.blocks[start].to
		for end < len(g.blocks) && g.blocks[end].col == g.blocks[start].col && g.blocks[end].from < reach {
			reach = max(reach, g.blocks[end].to)
			end++
		}
		var laneEnds []int
		for i := start; i < end; i++ {
			b := &g.blocks[i]
			b.lane = -1
			for l, e := range laneEnds {
				if e <= b.from {
					b.lane, laneEnds[l] = l, b.to
					break
				}
			}
			if b.lane < 0 {
				b.lane = len(laneEnds)
				laneEnds = append(laneEnds, b.to)
			}
		}
		for i := start; i < end; i++ {
			g.blocks[i].lanes = len(laneEnds)
		}
		start = end
	}
	g.col = min(g.col, max(len(columns)-1, 0))
	g.slot = min(g.slot, g.slots()-1)
	g.Refresh()
}

// occupies reports whether an appointment in this status takes its time.
func occupies(status string) bool {
	return status != app.StatusCancelled && status != app.StatusNoShow
}

// slots is how many rows the grid has.
func (g *dayGrid) slots() int { return (g.to - g.from) / slotMinutes }

// slotTime is when a row starts.
func (g *dayGrid) slotTime(slot int) time.Time {
	return g.day.Add(time.Duration(g.from+slot*slotMinutes) * time.Minute)
}

// slotOf is the row that holds t, clamped to the grid.
func (g *dayGrid) slotOf(t time.Time) int {
	m := int(t.Local().Sub(g.day).Minutes())
	return min(max((m-g.from)/slotMinutes, 0), g.slots()-1)
}

// at lists the appointments that cover a slot of a column, by lane.
func (g *dayGrid) at(col, slot int) []*gridBlock {
	m := g.from + slot*slotMinutes
	var out []*gridBlock
	for i := range g.blocks {
		b := &g.blocks[i]
		if b.col == col && b.from < m+slotMinutes && b.to > m {
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].lane < out[j].lane })
	return out
}

// under is the appointment under the cursor, if any.
func (g *dayGrid) under() *gridBlock {
	here := g.at(g.col, g.slot)
	if len(here) == 0 {
		return nil
	}
	return here[min(g.lane, len(here)-1)]
}

// moveTo puts the cursor on a slot (and lane) and selects what is there.
func (g *dayGrid) moveTo(col, slot, lane int) {
	if len(g.columns) == 0 {
		return
	}
	g.col = min(max(col, 0), len(g.columns)-1)
	g.slot = min(max(slot, 0), g.slots()-1)
	g.lane = max(lane, 0)
	g.selectUnder()
	g.Refresh()
}

// selectUnder selects the appointment under the cursor, or nothing.
func (g *dayGrid) selectUnder() {
	id := ""
	if b := g.under(); b != nil {
		id = b.appt.ID
	}
	g.selID = id
	if g.onSelect != nil {
		g.onSelect(id)
	}
}

// show puts the cursor on an appointment.
func (g *dayGrid) show(id string) bool {
	for _, b := range g.blocks {
		if b.appt.ID == id {
			slot := (b.from - g.from) / slotMinutes
			for lane, x := range g.at(b.col, slot) {
				if x.appt.ID == id {
					g.moveTo(b.col, slot, lane)
					return true
				}
			}
		}
	}
	return false
}

// cursorY is the top of the cursor's row, for scrolling it into view.
func (g *dayGrid) cursorY() float32 { return float32(g.slot) * slotHeight }

// columnWidth is each clinician's column at the grid's width.
func (g *dayGrid) columnWidth(width float32) float32 {
	n := max(len(g.columns), 1)
	return max((width-gridTimeWidth)/float32(n), gridMinColumn)
}

// MinSize is every slot's height; the width of the columns at their narrowest.
func (g *dayGrid) MinSize() fyne.Size {
	return fyne.NewSize(gridTimeWidth+gridMinColumn*float32(max(len(g.columns), 1)), float32(g.slots())*slotHeight)
}

// hit finds the column, slot and appointment at a point.
func (g *dayGrid) hit(p fyne.Position) (col, slot, lane int, ok bool) {
	if p.X < gridTimeWidth || len(g.columns) == 0 {
		return 0, 0, 0, false
	}
	w := g.columnWidth(g.Size().Width)
	col = int((p.X - gridTimeWidth) / w)
	slot = int(p.Y / slotHeight)
	if col >= len(g.columns) || slot < 0 || slot >= g.slots() {
		return 0, 0, 0, false
	}
	here := g.at(col, slot)
	for i, b := range here {
		x0 := gridTimeWidth + float32(col)*w + w*float32(b.lane)/float32(b.lanes)
		if p.X >= x0 && p.X < x0+w/float32(b.lanes) {
			return col, slot, i, true
		}
	}
	return col, slot, len(here), true // a free part of the slot
}

// Tapped puts the cursor where the pointer is; a free slot is booked.
func (g *dayGrid) Tapped(e *fyne.PointEvent) {
	g.touch()
	col, slot, lane, ok := g.hit(e.Position)
	if !ok {
		return
	}
	g.focus()
	here := g.at(col, slot)
	if lane < len(here) {
		g.moveTo(col, slot, lane)
		return
	}
	g.moveTo(col, slot, 0)
	if len(here) == 0 && g.onBook != nil {
		g.onBook(g.columns[col], g.slotTime(slot))
	}
}

// DoubleTapped opens the appointment under the pointer.
func (g *dayGrid) DoubleTapped(e *fyne.PointEvent) {
	g.touch()
	col, slot, lane, ok := g.hit(e.Position)
	if !ok {
		return
	}
	if here := g.at(col, slot); lane < len(here) {
		g.moveTo(col, slot, lane)
		if g.onOpen != nil {
			g.onOpen(here[lane].appt.ID)
		}
	}
}

func (g *dayGrid) focus() {
	if c := fyne.CurrentApp().Driver().CanvasForObject(g); c != nil {
		c.Focus(g)
	}
}

func (g *dayGrid) touch() {
	if g.onTouch != nil {
		g.onTouch()
	}
}

// FocusGained shows the cursor.
func (g *dayGrid) FocusGained() {
	g.focused = true
	if g.onFocus != nil {
		g.onFocus()
	}
	g.Refresh()
}

// FocusLost dims the cursor.
func (g *dayGrid) FocusLost() {
	g.focused = false
	g.Refresh()
}

// TypedRune does nothing: the grid is moved with keys.
func (g *dayGrid) TypedRune(rune) {}

// TypedKey moves the cursor (arrows by a slot or a clinician, Page Up
// and Page Down by an hour, Home and End to the day's ends); Enter books
// a free slot or opens the appointment's chart.
func (g *dayGrid) TypedKey(k *fyne.KeyEvent) {
	g.touch()
	here := len(g.at(g.col, g.slot))
	switch k.Name {
	case fyne.KeyUp:
		g.moveTo(g.col, g.slot-1, 0)
	case fyne.KeyDown:
		// From an appointment, Down goes to the slot after it.
		next := g.slot + 1
		if b := g.under(); b != nil {
			next = max(next, (b.to-g.from+slotMinutes-1)/slotMinutes)
		}
		g.moveTo(g.col, next, 0)
	case fyne.KeyLeft:
		if g.lane > 0 && here > 0 {
			g.moveTo(g.col, g.slot, min(g.lane, here-1)-1)
		} else {
			g.moveTo(g.col-1, g.slot, len(g.at(g.col-1, g.slot))-1)
		}
	case fyne.KeyRight:
		if g.lane < here-1 {
			g.moveTo(g.col, g.slot, g.lane+1)
		} else {
			g.moveTo(g.col+1, g.slot, 0)
		}
	case fyne.KeyPageUp:
		g.moveTo(g.col, g.slot-60/slotMinutes, 0)
	case fyne.KeyPageDown:
		g.moveTo(g.col, g.slot+60/slotMinutes, 0)
	case fyne.KeyHome:
		g.moveTo(g.col, 0, 0)
	case fyne.KeyEnd:
		g.moveTo(g.col, g.slots()-1, 0)
	case fyne.KeyReturn, fyne.KeyEnter, fyne.KeySpace:
		if len(g.columns) == 0 {
			return
		}
		if b := g.under(); b != nil {
			if g.onOpen != nil {
				g.onOpen(b.appt.ID)
			}
			return
		}
		if g.onBook != nil {
			g.onBook(g.columns[g.col], g.slotTime(g.slot))
		}
	}
}

// CreateRenderer draws the grid.
func (g *dayGrid) CreateRenderer() fyne.WidgetRenderer {
	return &dayGridRenderer{g: g}
}

type dayGridRenderer struct {
	g       *dayGrid
	objects []fyne.CanvasObject
}

func (r *dayGridRenderer) Destroy()                     {}
func (r *dayGridRenderer) MinSize() fyne.Size           { return r.g.MinSize() }
func (r *dayGridRenderer) Objects() []fyne.CanvasObject { return r.objects }
func (r *dayGridRenderer) Refresh()                     { r.Layout(r.g.Size()) }

// Layout draws everything anew: a day holds a few dozen appointments.
func (r *dayGridRenderer) Layout(size fyne.Size) {
	g := r.g
	var objs []fyne.CanvasObject
	add := func(o fyne.CanvasObject, x, y, w, h float32) {
		o.Move(fyne.NewPos(x, y))
		o.Resize(fyne.NewSize(w, h))
		objs = append(objs, o)
	}
	fg := theme.Color(theme.ColorNameForeground)
	sep := theme.Color(theme.ColorNameSeparator)
	faint := theme.Color(theme.ColorNameInputBackground)
	w := g.columnWidth(size.Width)
	height := float32(g.slots()) * slotHeight
	textSize := theme.TextSize() - 1

	// Column backgrounds, alternating, so a column reads down the day.
	for c := range g.columns {
		if c%2 == 1 {
			add(canvas.NewRectangle(faint), gridTimeWidth+float32(c)*w, 0, w, height)
		}
	}
	// Lines at every slot, stronger at the hour; times at the hour and half hour.
	for s := 0; s <= g.slots(); s++ {
		m := g.from + s*slotMinutes
		y := float32(s) * slotHeight
		line := canvas.NewRectangle(sep)
		lh := float32(1)
		if m%60 == 0 {
			lh = 2
		}
		add(line, gridTimeWidth, y, size.Width-gridTimeWidth, lh)
		if s < g.slots() && m%30 == 0 {
			t := canvas.NewText(g.slotTime(s).Format(timeLayout), fg)
			t.TextSize = textSize
			if m%60 != 0 {
				t.Color = theme.Color(theme.ColorNamePlaceHolder)
			}
			add(t, 6, y+2, gridTimeWidth-8, textSize+4)
		}
	}
	for c := 1; c < len(g.columns); c++ {
		add(canvas.NewRectangle(sep), gridTimeWidth+float32(c)*w, 0, 1, height)
	}
	// The time now, on today's grid.
	if now := g.now().Local(); midnight(now).Equal(g.day) {
		m := int(now.Sub(g.day).Minutes())
		if m >= g.from && m < g.to {
			y := float32(m-g.from) / slotMinutes * slotHeight
			add(canvas.NewRectangle(theme.Color(theme.ColorNameError)), gridTimeWidth-4, y-1, size.Width-gridTimeWidth+4, 2)
		}
	}
	// The appointments.
	for _, b := range g.blocks {
		x := gridTimeWidth + float32(b.col)*w + w*float32(b.lane)/float32(b.lanes) + 2
		bw := w/float32(b.lanes) - 4
		y := float32(b.from-g.from)/slotMinutes*slotHeight + 2
		bh := max(float32(b.to-b.from)/slotMinutes*slotHeight-4, slotHeight-4)
		colour := statusColours[b.appt.Status]
		tint := colour
		tint.A = 0x30
		bg := canvas.NewRectangle(tint)
		bg.CornerRadius = 4
		if b.appt.ID == g.selID {
			bg.StrokeColor = theme.Color(theme.ColorNamePrimary)
			bg.StrokeWidth = 2
		}
		add(bg, x, y, bw, bh)
		add(canvas.NewRectangle(colour), x, y, 4, bh)
		words := statusWords[b.appt.Status]
		first := b.appt.Start.Local().Format(timeLayout) + " " + b.appt.PatientName
		second := words
		if b.appt.Reason != "" {
			second += " · " + b.appt.Reason
		}
		lines := []string{first, second}
		if bh < 2*(textSize+6) {
			lines = []string{first + " · " + words}
		}
		for i, l := range lines {
			style := fyne.TextStyle{Bold: i == 0}
			t := canvas.NewText(fitText(l, textSize, style, bw-14), fg)
			t.TextSize = textSize
			t.TextStyle = style
			add(t, x+9, y+3+float32(i)*(textSize+5), bw-12, textSize+4)
		}
	}
	// The cursor.
	if len(g.columns) > 0 {
		cur := canvas.NewRectangle(color.Transparent)
		cur.CornerRadius = 4
		cur.StrokeWidth = 2
		cur.StrokeColor = theme.Color(theme.ColorNamePlaceHolder)
		if g.focused {
			cur.StrokeColor = theme.Color(theme.ColorNameFocus)
			cur.StrokeWidth = 3
		}
		x, cw := gridTimeWidth+float32(g.col)*w, w
		y, ch := float32(g.slot)*slotHeight, slotHeight
		if b := g.under(); b != nil {
			x += w * float32(b.lane) / float32(b.lanes)
			cw = w / float32(b.lanes)
			y = float32(b.from-g.from) / slotMinutes * slotHeight
			ch = max(float32(b.to-b.from)/slotMinutes*slotHeight, slotHeight)
		} else if g.focused {
			hint := canvas.NewText("+ Book "+g.slotTime(g.slot).Format(timeLayout), theme.Color(theme.ColorNamePrimary))
			hint.TextSize = textSize
			add(hint, x+8, y+5, cw-12, textSize+4)
		}
		add(cur, x+1, y+1, cw-2, ch-2)
	}
	r.objects = objs
	canvas.Refresh(g)
}

// fitText shortens s with an ellipsis to fit width.
func fitText(s string, size float32, style fyne.TextStyle, width float32) string {
	if width <= 0 {
		return ""
	}
	if fyne.MeasureText(s, size, style).Width <= width {
		return s
	}
	runes := []rune(strings.TrimSpace(s))
	lo, hi := 0, len(runes)
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if fyne.MeasureText(string(runes[:mid])+"…", size, style).Width <= width {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	if lo == 0 {
		return ""
	}
	return string(runes[:lo]) + "…"
}
