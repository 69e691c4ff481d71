package ui

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// auditReader is what the Audit log screen needs from a session.
type auditReader interface {
	AuditList(ctx context.Context, limit int) ([]app.AuditEntry, error)
	AuditVerify(ctx context.Context) (int, error)
	AuditWitnessed(ctx context.Context) bool
}

var _ auditReader = (*app.Session)(nil)

// auditLimit is how many of the newest entries the screen shows.
const auditLimit = 200

// auditColumns are the audit table's titles and widths.
var auditColumns = []struct {
	title string
	width float32
}{{"Time", 150}, {"Computer", 110}, {"User", 120}, {"Action", 130}, {"Subject", 120}, {"Detail", 150}}

// actionText says an audit action in words; unknown actions show as stored.
var actionText = map[string]string{
	"vault-created":      "Vault created",
	"signin":             "Signed in",
	"signin-failed":      "Sign-in failed",
	"account-locked-out": "Account locked out",
	"lock":               "Locked",
	"user-added":         "User added",
	"user-removed":       "User removed",
	"user-unlocked":      "User unlocked",
	"role-changed":       "Role changed",
	"totp-reset":         "Authenticator reset",
	"totp-enrolled":      "Authenticator set up",
	"passphrase-changed": "Passphrase changed",
	"settings-changed":   "Setting changed",
	"recovery-key-used":  "Recovery key used",
}

// fillLastColumn lays out a table to fill its space, widening the last
// column to use any width the others leave.
type fillLastColumn struct {
	t    *widget.Table
	last float32
}

// MinSize is the table's.
func (f *fillLastColumn) MinSize(objs []fyne.CanvasObject) fyne.Size { return objs[0].MinSize() }

// Layout widens the last column, then fills the space with the table.
func (f *fillLastColumn) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	last := len(auditColumns) - 1
	used := float32(0)
	for _, c := range auditColumns[:last] {
		used += c.width
	}
	// Leave room for the vertical scroll bar.
	if w := max(auditColumns[last].width, size.Width-used-theme.Padding()*float32(len(auditColumns)+2)); w != f.last {
		f.last = w
		f.t.SetColumnWidth(last, w)
	}
	objs[0].Move(fyne.NewPos(0, 0))
	objs[0].Resize(size)
}

// auditScreen shows the newest audit entries and checks the chain.
type auditScreen struct {
	g       *gui
	s       auditReader
	entries []app.AuditEntry
	table   *widget.Table
	verify  *widget.Button
	result  *kit.StatusText
	count   *widget.Label
	view    fyne.CanvasObject
}

func newAuditScreen(g *gui, s auditReader) *auditScreen {
	a := &auditScreen{g: g, s: s, result: kit.NewStatus(widget.MediumImportance), count: widget.NewLabel("")}
	a.table = widget.NewTable(
		func() (int, int) { return len(a.entries), len(auditColumns) },
		func() fyne.CanvasObject { return cell() },
		func(id widget.TableCellID, o fyne.CanvasObject) {
			e := a.entries[id.Row]
			var text string
			switch id.Col {
			case 0:
				text = e.At.Local().Format("2 Jan 2006 15:04:05")
			case 1:
				text = e.Computer
			case 2:
				text = e.UserName
			case 3:
				text = e.Action
				if t, ok := actionText[e.Action]; ok {
					text = t
				}
			case 4:
				text = e.Subject
			case 5:
				text = e.Detail
			}
			o.(*widget.Label).SetText(text)
		},
	)
	a.table.ShowHeaderRow = true
	a.table.CreateHeader = func() fyne.CanvasObject { return kit.HeaderCell("") }
	a.table.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Col >= 0 && id.Col < len(auditColumns) {
			o.(*widget.Label).SetText(auditColumns[id.Col].title)
		}
	}
	for i, c := range auditColumns {
		a.table.SetColumnWidth(i, c.width)
	}
	a.table.OnSelected = func(widget.TableCellID) { g.activity() }
	a.verify = widget.NewButtonWithIcon("Verify chain", theme.ConfirmIcon(), g.act(a.check))
	refresh := widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), g.act(a.load))
	top := container.NewVBox(
		kit.Heading("Audit log"),
		kit.Wrapped("Every sign-in, lock and change to staff or settings is recorded here, on every computer of the practice. Each entry is chained to the one before, "+
			"and the other computers keep what they saw of each log, so a changed or deleted entry shows up when the chain is verified."),
		container.NewHBox(a.verify, refresh, a.count),
		a.result,
	)
	a.view = container.New(layout.NewCustomPaddedLayout(0, 0, 0, 10),
		container.NewBorder(top, nil, nil, nil, container.New(&fillLastColumn{t: a.table}, a.table)))
	a.load()
	return a
}

// load reads the newest entries.
func (a *auditScreen) load() {
	entries, err := a.s.AuditList(a.g.ctx, auditLimit)
	if err != nil {
		a.result.Importance = widget.DangerImportance
		a.result.SetText("The audit log could not be read. " + plain.Error(err))
		entries = nil
	}
	a.entries = entries
	if len(entries) >= auditLimit {
		a.count.SetText(fmt.Sprintf("The newest %d entries, newest first.", auditLimit))
	} else {
		a.count.SetText(fmt.Sprintf("%d entries, newest first.", len(entries)))
	}
	a.table.Refresh()
}

// check verifies the whole chain.
func (a *auditScreen) check() {
	n, err := a.s.AuditVerify(a.g.ctx)
	var witnessed *app.AuditWitnessError
	switch {
	case errors.As(err, &witnessed):
		var lines []string
		for _, p := range witnessed.Problems {
			lines = append(lines, kit.Sentence(p.String()))
		}
		a.result.Importance = widget.DangerImportance
		a.result.SetText("The log does not match what the practice's other computers saw of it. " + strings.Join(lines, " ") +
			" Someone with access to a computer's files has changed its log; keep a copy of the data folder and contact support.")
		return
	case err != nil:
		a.result.Importance = widget.DangerImportance
		a.result.SetText("The chain is broken: " + plain.Error(err) + " Someone may have changed the log outside ClinicVault; keep a copy of the data folder and contact support.")
		return
	}
	a.result.Importance = widget.SuccessImportance
	if a.s.AuditWitnessed(a.g.ctx) {
		a.result.SetText(fmt.Sprintf("%d entries, chain intact, and it matches what the practice's other computers saw of it.", n))
	} else {
		a.result.SetText(fmt.Sprintf("%d entries, chain intact. Not yet witnessed by another computer: once this computer syncs, the others keep what they saw of its log.", n))
	}
}
