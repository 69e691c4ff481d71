package ui

import (
	"context"
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
)

// auditReader is what the Audit log screen needs from a session.
type auditReader interface {
	AuditList(ctx context.Context, limit int) ([]app.AuditEntry, error)
	AuditVerify(ctx context.Context) (int, error)
}

var _ auditReader = (*app.Session)(nil)

// auditLimit is how many of the newest entries the screen shows.
const auditLimit = 200

// auditColumns are the audit table's titles and widths.
var auditColumns = []struct {
	title string
	width float32
}{{"Time", 150}, {"User", 130}, {"Action", 140}, {"Subject", 140}, {"Detail", 160}}

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
	result  *statusText
	count   *widget.Label
	view    fyne.CanvasObject
}

func newAuditScreen(g *gui, s auditReader) *auditScreen {
	a := &auditScreen{g: g, s: s, result: newStatus(widget.MediumImportance), count: widget.NewLabel("")}
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
				text = e.UserName
			case 2:
				text = e.Action
				if t, ok := actionText[e.Action]; ok {
					text = t
				}
			case 3:
				text = e.Subject
			case 4:
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
		kit.Wrapped("Every sign-in, lock and change to staff or settings is recorded here. Each entry is chained to the one before, "+
			"so a changed or deleted entry shows up when the chain is verified."),
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
		a.result.SetText("The audit log could not be read. " + plain(err))
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
	if err != nil {
		a.result.Importance = widget.DangerImportance
		a.result.SetText("The chain is broken: " + plain(err) + " Someone may have changed the log outside ClinicVault; keep a copy of the data folder and contact support.")
		return
	}
	a.result.Importance = widget.SuccessImportance
	a.result.SetText(fmt.Sprintf("%d entries, chain intact.", n))
}
