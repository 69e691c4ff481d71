package kit

import (
	"sync/atomic"

	"fyne.io/fyne/v2"
)

var (
	// queue, when not nil, receives the UI work of other goroutines
	// instead of fyne.Do (see QueueUI).
	queue chan func()
	// pending counts background work whose result has not yet reached the
	// UI; tests wait for it.
	pending atomic.Int64
)

// QueueUI makes Post hand UI work to the returned channel, of the given
// size, instead of fyne.Do. It is for tests, which call it before building
// any screen and run the work themselves: the test driver's fyne.Do runs
// it at once on the calling goroutine, which would race with the test's
// own use of the widgets.
func QueueUI(size int) <-chan func() {
	queue = make(chan func(), size)
	return queue
}

// Pending is how many Background calls have not yet run their done
// function on the UI thread.
func Pending() int64 { return pending.Load() }

// Post runs f on the UI thread; it may be called from any goroutine.
func Post(f func()) {
	if queue != nil {
		queue <- f
		return
	}
	fyne.Do(f)
}

// Background runs work off the UI thread, then done on it.
func Background(work func(), done func()) {
	pending.Add(1)
	go func() {
		work()
		Post(func() {
			defer pending.Add(-1)
			done()
		})
	}()
}

// Activity is told that someone is at the keyboard or mouse, so that its
// idle lock does not close under them: a signed-in *app.Session is one.
// Where there is none (before sign-in), pass a nil Activity, never a nil
// *app.Session.
type Activity interface{ Touch() }

// Act wraps a button action so that it counts as activity for a (which
// may be nil).
func Act(a Activity, f func()) func() {
	return func() {
		Touch(a)
		f()
	}
}

// Touch tells a, when not nil, that the user is active, without waiting:
// a backup, a verification or a sync pass holds the session for its whole
// length, and the UI thread must not wait for it.
func Touch(a Activity) {
	if a != nil {
		go a.Touch()
	}
}
