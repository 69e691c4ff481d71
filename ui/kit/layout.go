package kit

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
)

// Page is a screen that scrolls vertically, with room on the right for the
// scroll bar.
func Page(content fyne.CanvasObject) fyne.CanvasObject {
	return container.NewVScroll(container.New(layout.NewCustomPaddedLayout(0, 12, 0, 14), content))
}

// ButtonRow is a row of buttons with some room above it.
func ButtonRow(objs ...fyne.CanvasObject) fyne.CanvasObject {
	return container.New(layout.NewCustomPaddedLayout(6, 0, 0, 0), container.NewHBox(objs...))
}

// FixedWidth is a layout that puts its objects at this width (or the
// space given, if less), so that wrapping labels in a dialog or a row
// keep a sensible width.
type FixedWidth float32

// MinSize is the width and as tall as the tallest visible object.
func (f FixedWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	h := float32(0)
	for _, o := range objs {
		if o.Visible() {
			h = max(h, o.MinSize().Height)
		}
	}
	return fyne.NewSize(float32(f), h)
}

// Layout gives every object the whole area.
func (f FixedWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// TightVBox is a layout that stacks the visible objects with this gap
// between them (negative to draw labels' own padding closer together).
type TightVBox float32

// MinSize is the widest object and the heights with the gaps.
func (v TightVBox) MinSize(objs []fyne.CanvasObject) fyne.Size {
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
		h += float32(v) * float32(n-1)
	}
	return fyne.NewSize(w, h)
}

// Layout stacks the objects at full width.
func (v TightVBox) Layout(objs []fyne.CanvasObject, size fyne.Size) {
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
		y += h + float32(v)
	}
}

// Columns is a layout that puts objects side by side with widths in
// proportion to its weights (repeated when there are more objects than
// weights); each is as tall as the tallest.
type Columns []float32

// MinSize is the sum of the objects' widths and the tallest height.
func (c Columns) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var w, h float32
	for _, o := range objs {
		m := o.MinSize()
		w += m.Width
		h = max(h, m.Height)
	}
	return fyne.NewSize(w, h)
}

// Layout divides the width by the weights.
func (c Columns) Layout(objs []fyne.CanvasObject, size fyne.Size) {
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

// MinHeight is a layout that gives its objects the whole area and asks
// for at least this height, so that a list inside a scrolling page shows
// several rows instead of being squeezed to one.
type MinHeight float32

// MinSize is the widest visible object, at least this tall.
func (m MinHeight) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := fyne.NewSize(0, float32(m))
	for _, o := range objs {
		if o.Visible() {
			s = s.Max(o.MinSize())
		}
	}
	return s
}

// Layout gives every object the whole area.
func (m MinHeight) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}
