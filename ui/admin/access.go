package admin

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// accessColumns are the access review's column weights.
var accessColumns = kit.Columns{0.2, 0.13, 0.14, 0.19, 0.16, 0.18}

// accessScreen is the quarterly access review.
type accessScreen struct {
	win fyne.Window
	s   *app.Session
	ctx context.Context

	rows    []app.AccessRow
	summary *kit.Notice
	list    *widget.List
	export  *widget.Button
	status  *kit.StatusText
	view    fyne.CanvasObject
	// exporting is the open export dialog, for tests.
	exporting *exportDialog
}

// NewAccessReviewScreen is the admins' quarterly Access review: everyone
// who can sign in, with role, when the account was made, the last sign-in
// and device and its status, and "Export encrypted…" to save it as an
// age-encrypted CSV file, protected by a passphrase or an age recipient.
func NewAccessReviewScreen(win fyne.Window, s *app.Session) fyne.CanvasObject {
	return newAccessScreen(win, s).view
}

func newAccessScreen(win fyne.Window, s *app.Session) *accessScreen {
	a := &accessScreen{win: win, s: s, ctx: context.Background(), status: kit.NewStatus(widget.MediumImportance)}
	if s.User().Role != app.Admin {
		a.view = kit.Page(container.NewVBox(kit.Heading("Access review"),
			kit.NewNotice(kit.ToneInfo, "For admins", "The access review is done by the practice's admins.")))
		return a
	}
	a.summary = kit.NewNotice(kit.ToneInfo, "Loading…", "")
	a.export = widget.NewButtonWithIcon("Export encrypted…", theme.DocumentSaveIcon(), kit.Act(s, a.openExport))
	a.export.Importance = widget.HighImportance
	refresh := widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), kit.Act(s, a.load))
	a.list = widget.NewList(
		func() int { return len(a.rows) },
		func() fyne.CanvasObject {
			return container.New(accessColumns, cell(), cell(), cell(), cell(), cell(), cell())
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(a.rows) {
				return
			}
			cells := o.(*fyne.Container).Objects
			r := a.rows[id]
			setCell(cells[0].(*widget.Label), r.Name, widget.MediumImportance)
			setCell(cells[1].(*widget.Label), roleLabel(r.Role), widget.MediumImportance)
			setCell(cells[2].(*widget.Label), kit.Day(r.Created), widget.MediumImportance)
			last, imp := dayTime(r.LastSignIn), widget.MediumImportance
			if r.LastSignIn.IsZero() || now().Sub(r.LastSignIn) > 90*24*time.Hour {
				imp = widget.WarningImportance
			}
			setCell(cells[3].(*widget.Label), last, imp)
			setCell(cells[4].(*widget.Label), a.device(r.LastDevice), widget.MediumImportance)
			imp = widget.MediumImportance
			if r.Status != "active" {
				imp = widget.WarningImportance
			}
			setCell(cells[5].(*widget.Label), r.Status, imp)
		},
	)
	a.list.OnSelected = func(widget.ListItemID) { kit.Touch(s) }
	header := container.New(accessColumns, kit.HeaderCell("Name"), kit.HeaderCell("Role"), kit.HeaderCell("Added"),
		kit.HeaderCell("Last sign-in"), kit.HeaderCell("Last device"), kit.HeaderCell("Status"))
	steps := kit.Wrapped("Once a quarter, go through the list with the practice manager: is each person still working here, " +
		"and does their role match their job? Remove or change accounts on the Users screen, then export the list " +
		"as the record of the review.")
	top := container.NewVBox(
		kit.Heading("Access review"),
		steps,
		a.summary,
		container.NewHBox(a.export, refresh),
		a.status,
		header,
		widget.NewSeparator(),
	)
	a.view = container.New(layout.NewCustomPaddedLayout(0, 0, 0, 10), container.NewBorder(top, nil, nil, nil, a.list))
	a.load()
	return a
}

// roleLabel is a role with a capital.
func roleLabel(r app.Role) string {
	if r == "" {
		return ""
	}
	return strings.ToUpper(string(r[:1])) + string(r[1:])
}

// device says which computer a sign-in came from: the device ids are
// not meant for people.
func (a *accessScreen) device(id string) string {
	switch {
	case id == "":
		return "—"
	case id == a.s.DeviceID():
		return "this computer"
	case len(id) > 8:
		return "device " + id[len(id)-8:]
	}
	return id
}

// load reads the review and the last review date off the UI thread.
func (a *accessScreen) load() {
	var rows []app.AccessRow
	var items []app.CheckItem
	var err error
	kit.Background(func() {
		rows, err = a.s.AccessReview(a.ctx)
		if err == nil {
			items, _ = a.s.SecurityReport(a.ctx)
		}
	}, func() {
		if err != nil {
			a.summary.Set(kit.ToneDanger, "The access review could not be read", plain.Error(err))
			return
		}
		a.rows = rows
		a.list.Refresh()
		a.showSummary(items)
	})
}

// showSummary says when the last review was and whether one is due.
func (a *accessScreen) showSummary(items []app.CheckItem) {
	count := kit.Plural(len(a.rows), "account")
	for _, it := range items {
		if it.ID != "access-review" {
			continue
		}
		last := strings.TrimPrefix(it.Detail, "last ")
		if d, err := time.ParseInLocation("2006-01-02", last, time.Local); err == nil {
			last = kit.Day(d)
		}
		if it.Status == "attention" {
			when := "No access review has been exported yet."
			if it.Detail != "never done" {
				when = "The last review was exported on " + last + ", more than a quarter ago."
			}
			a.summary.Set(kit.ToneWarning, "An access review is due", when+" "+kit.Sentence(count+" can sign in"))
		} else {
			a.summary.Set(kit.ToneOK, "The access review is up to date",
				"The last review was exported on "+last+". The next is due within three months. "+kit.Sentence(count+" can sign in"))
		}
		return
	}
	a.summary.Set(kit.ToneInfo, kit.Sentence(count+" can sign in"), "")
}

// exportDialog asks how to protect the export.
type exportDialog struct {
	a       *accessScreen
	d       *dialog.CustomDialog
	how     *widget.RadioGroup
	pass    *kit.Entry
	again   *kit.Entry
	rcpt    *kit.Entry
	passBox *fyne.Container
	rcptBox *fyne.Container
	status  *kit.StatusText
	save    *widget.Button
	cancel  *widget.Button
	busy    bool
	closed  bool
	// saved is the file written, once done.
	saved string
}

// How an export is protected.
const (
	byPassphrase = "A passphrase"
	byRecipient  = "An age recipient (a public key starting with age1)"
)

// openExport shows the export dialog.
func (a *accessScreen) openExport() {
	s := a.s
	x := &exportDialog{a: a, status: kit.NewStatus(widget.MediumImportance)}
	a.exporting = x
	x.pass = kit.NewPasswordEntry(s)
	x.again = kit.NewPasswordEntry(s)
	x.rcpt = kit.NewEntry(s)
	x.rcpt.SetPlaceHolder("age1…")
	x.passBox = container.NewVBox(widget.NewForm(
		widget.NewFormItem("Passphrase", x.pass),
		widget.NewFormItem("Type it again", x.again),
	), kit.Quiet("At least 12 characters; a few unrelated words work well. Keep it with the practice's records, not with the file."))
	x.rcptBox = container.NewVBox(widget.NewForm(widget.NewFormItem("Recipient", x.rcpt)),
		kit.Quiet("Only the holder of the matching age identity (secret key) can open the file."))
	x.rcptBox.Hide()
	x.how = widget.NewRadioGroup([]string{byPassphrase, byRecipient}, func(v string) {
		kit.Touch(s)
		if v == byRecipient {
			x.passBox.Hide()
			x.rcptBox.Show()
		} else {
			x.passBox.Show()
			x.rcptBox.Hide()
		}
	})
	x.how.Required = true
	x.how.SetSelected(byPassphrase)
	x.pass.OnSubmitted = func(string) { x.a.win.Canvas().Focus(x.again) }
	x.again.OnSubmitted = func(string) { kit.Touch(s); x.choose() }
	x.rcpt.OnSubmitted = func(string) { kit.Touch(s); x.choose() }
	howTo := kit.Card(container.NewVBox(
		kit.Bold("Opening the file later"),
		kit.Wrapped("The export is a CSV spreadsheet encrypted with age, an open standard (age-encryption.org). Any age tool opens it, for example:"),
		monospace("age --decrypt -o access-review.csv \""+exportName()+"\""),
		kit.Wrapped("which asks for the passphrase (or add -i with the recipient's identity file). Then open the .csv file in a spreadsheet."),
	))
	content := container.NewVBox(
		kit.Wrapped("The list of accounts is saved encrypted, so it can be kept or sent with the practice's compliance records. Exporting also records today as the date of this review."),
		kit.Bold("Protect the file with"),
		x.how,
		x.passBox,
		x.rcptBox,
		howTo,
		x.status,
	)
	x.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), kit.Act(s, func() { x.d.Hide() }))
	x.save = widget.NewButtonWithIcon("Choose file and export…", theme.DocumentSaveIcon(), kit.Act(s, x.choose))
	x.save.Importance = widget.HighImportance
	x.d = dialog.NewCustomWithoutButtons("Export the access review",
		container.NewVScroll(container.New(layout.NewCustomPaddedLayout(0, 0, 0, 8), content)), a.win)
	x.d.SetButtons([]fyne.CanvasObject{x.cancel, x.save})
	x.d.SetOnClosed(func() { x.closed = true })
	x.d.Resize(fyne.NewSize(640, 580))
	x.d.Show()
	a.win.Canvas().Focus(x.pass)
}

// exportName is the suggested file name of an export.
func exportName() string {
	return "Access review " + now().Local().Format("2006-01-02") + ".csv.age"
}

// monospace is a selectable line of fixed-width text.
func monospace(text string) *widget.Label {
	l := widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	l.Selectable = true
	l.Wrapping = fyne.TextWrapBreak
	return l
}

// choose checks the fields, then asks where to save.
func (x *exportDialog) choose() {
	if x.busy {
		return
	}
	pass, rcpt := "", ""
	if x.how.Selected == byRecipient {
		rcpt = strings.TrimSpace(x.rcpt.Text)
		if rcpt == "" {
			x.status.Say(widget.DangerImportance, "Paste the age recipient (it starts with age1).")
			return
		}
		if !strings.HasPrefix(rcpt, "age1") {
			x.status.Say(widget.DangerImportance, "An age recipient starts with age1. Paste the public key, not the secret identity.")
			return
		}
	} else {
		pass = x.pass.Text
		if pass == "" {
			x.status.Say(widget.DangerImportance, "Type a passphrase for the file.")
			return
		}
		if x.again.Text != pass {
			x.status.Say(widget.DangerImportance, "The two passphrases do not match.")
			return
		}
	}
	x.status.Say(widget.MediumImportance, "")
	files.save(x.a.win, exportName(), func(w fyne.URIWriteCloser) { x.write(w, pass, rcpt) })
}

// write exports into memory off the UI thread, then writes the file, so
// that a refused passphrase leaves no empty file behind.
func (x *exportDialog) write(w fyne.URIWriteCloser, pass, rcpt string) {
	x.busy = true
	kit.Enable(x.save, false)
	kit.Enable(x.cancel, false)
	var buf bytes.Buffer
	var err error
	kit.Background(func() {
		err = x.a.s.ExportAccessReview(x.a.ctx, &buf, pass, rcpt)
		if err == nil {
			_, err = w.Write(buf.Bytes())
		}
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			storage.Delete(w.URI())
		}
	}, func() {
		x.busy = false
		kit.Enable(x.save, true)
		kit.Enable(x.cancel, true)
		if err != nil {
			x.status.Say(widget.DangerImportance, "Nothing was exported. "+plain.Error(err))
			if x.closed {
				plain.ShowError(x.a.win, "The access review was not exported", err)
			}
			return
		}
		x.pass.SetText("")
		x.again.SetText("")
		x.saved = w.URI().Path()
		if !x.closed {
			x.d.Hide()
		}
		x.a.status.Say(widget.SuccessImportance, fmt.Sprintf("The access review was exported to %s, encrypted with age. Today is recorded as the date of this review.", x.saved))
		x.a.load()
	})
}
