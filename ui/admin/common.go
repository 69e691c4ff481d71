package admin

import (
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
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
	kit.Post(func() {
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

// dayTime is a date and time as the screens show it.
func dayTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2 Jan 2006 15:04")
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

// cell is a list cell that truncates instead of widening the row.
func cell() *widget.Label {
	l := widget.NewLabel("")
	l.Truncation = fyne.TextTruncateEllipsis
	return l
}

// setCell sets a cell's text and colour.
func setCell(l *widget.Label, text string, imp widget.Importance) {
	l.Text = text
	l.Importance = imp
	l.Refresh()
}
