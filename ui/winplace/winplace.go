// Package winplace reads and sets where a window is on screen through the
// system's own window handle, for what Fyne 2.7 does not offer: a
// window's position and whether it is maximised, and bringing a minimised
// window back. Only Windows is done (through user32, no cgo); elsewhere
// Get reports nothing and Set and Unminimize do nothing.
package winplace

// Placement is where a window is: the top-left corner of its normal (not
// maximised, not minimised) frame in the system's screen pixels (on
// Windows, workspace coordinates), and whether it is maximised.
type Placement struct {
	X, Y      int
	Maximized bool
}
