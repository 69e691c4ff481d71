package admin

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// emergencyColumns are the list's column weights.
var emergencyColumns = kit.Columns{0.17, 0.16, 0.25, 0.22, 0.2}

// emergencyScreen lists emergency accesses to restricted charts for an
// admin to review.
type emergencyScreen struct {
	win fyne.Window
	s   *app.Session
	ctx context.Context

	items   []app.EmergencyAccess
	sel     string // the selected access's ID
	showAll *widget.Check
	summary *kit.Notice
	list    *widget.List
	detail  *widget.Label
	review  *widget.Button
	status  *kit.StatusText
	view    fyne.CanvasObject

	// note is the open review dialog's note field, for tests.
	note *kit.Entry
	// noteDialog is the open review dialog, for tests.
	noteDialog *dialog.ConfirmDialog
}

// NewEmergencyReviewScreen is the admins' Emergency access review: every
// time a clinician opened a restricted chart with emergency access, with
// the reason given, those awaiting review first, and "Mark reviewed…" to
// record the review with a note.
func NewEmergencyReviewScreen(win fyne.Window, s *app.Session) fyne.CanvasObject {
	return newEmergencyScreen(win, s).view
}

func newEmergencyScreen(win fyne.Window, s *app.Session) *emergencyScreen {
	e := &emergencyScreen{win: win, s: s, ctx: context.Background(), status: kit.NewStatus(widget.MediumImportance)}
	if s.User().Role != app.Admin {
		e.view = kit.Page(container.NewVBox(kit.Heading("Emergency access review"),
			kit.NewNotice(kit.ToneInfo, "For admins", "Emergency accesses are reviewed by the practice's admins.")))
		return e
	}
	e.summary = kit.NewNotice(kit.ToneInfo, "Loading…", "")
	e.showAll = widget.NewCheck("Show reviewed ones too", func(bool) {
		kit.Touch(s)
		e.load()
	})
	e.showAll.SetChecked(true)
	e.review = widget.NewButtonWithIcon("Mark reviewed…", theme.ConfirmIcon(), kit.Act(s, e.markReviewed))
	e.review.Importance = widget.HighImportance
	refresh := widget.NewButtonWithIcon("Refresh", theme.ViewRefreshIcon(), kit.Act(s, e.load))
	e.detail = kit.Quiet("")
	e.list = widget.NewList(
		func() int { return len(e.items) },
		func() fyne.CanvasObject {
			return container.New(emergencyColumns, cell(), cell(), cell(), cell(), cell())
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id >= len(e.items) {
				return
			}
			row := o.(*fyne.Container).Objects
			it := e.items[id]
			setCell(row[0].(*widget.Label), dayTime(it.At), widget.MediumImportance)
			setCell(row[1].(*widget.Label), it.User, widget.MediumImportance)
			setCell(row[2].(*widget.Label), it.Patient+" ("+it.PatientMRN+")", widget.MediumImportance)
			setCell(row[3].(*widget.Label), it.Reason, widget.MediumImportance)
			if it.ReviewedAt.IsZero() {
				row[4].(*widget.Label).TextStyle.Bold = true
				setCell(row[4].(*widget.Label), "awaiting review", widget.WarningImportance)
			} else {
				row[4].(*widget.Label).TextStyle.Bold = false
				setCell(row[4].(*widget.Label), "reviewed "+kit.Day(it.ReviewedAt), widget.SuccessImportance)
			}
		},
	)
	e.list.OnSelected = func(id widget.ListItemID) {
		kit.Touch(s)
		if id < len(e.items) {
			e.sel = e.items[id].ID
		}
		e.refreshDetail()
	}
	e.list.OnUnselected = func(widget.ListItemID) {
		e.sel = ""
		e.refreshDetail()
	}
	header := container.New(emergencyColumns, kit.HeaderCell("When"), kit.HeaderCell("Clinician"), kit.HeaderCell("Patient"),
		kit.HeaderCell("Reason given"), kit.HeaderCell("Review"))
	top := container.NewVBox(
		kit.Heading("Emergency access review"),
		kit.Wrapped("A clinician who is not named on a restricted chart can still open it in an emergency, by giving a reason. "+
			"Check each one with the clinician or the patient's own clinician, then mark it reviewed with a note of what you found."),
		e.summary,
		container.NewHBox(e.review, refresh, layout.NewSpacer(), e.showAll),
		e.status,
		header,
		widget.NewSeparator(),
	)
	bottom := container.NewVBox(widget.NewSeparator(), e.detail)
	e.view = container.New(layout.NewCustomPaddedLayout(0, 0, 0, 10), container.NewBorder(top, bottom, nil, nil, e.list))
	e.refreshDetail()
	e.load()
	return e
}

// load reads the accesses off the UI thread.
func (e *emergencyScreen) load() {
	var items, pending []app.EmergencyAccess
	var err error
	all := e.showAll.Checked
	kit.Background(func() {
		items, err = e.s.EmergencyAccesses(e.ctx, !all)
		if err == nil && all {
			pending, err = e.s.EmergencyAccesses(e.ctx, true)
		} else {
			pending = items
		}
	}, func() {
		if err != nil {
			e.summary.Set(kit.ToneDanger, "The emergency accesses could not be read", plain.Error(err))
			return
		}
		e.items = items
		switch n := len(pending); {
		case n == 0 && len(items) == 0:
			e.summary.Set(kit.ToneOK, "Nothing to review", "No chart has been opened with emergency access.")
		case n == 0:
			e.summary.Set(kit.ToneOK, "Nothing to review", "Every emergency access has been reviewed.")
		case n == 1:
			e.summary.Set(kit.ToneWarning, "1 emergency access awaits review", "Select it below, check the reason, then press \"Mark reviewed…\".")
		default:
			e.summary.Set(kit.ToneWarning, fmt.Sprintf("%d emergency accesses await review", n), "They are listed first. Select one, check the reason, then press \"Mark reviewed…\".")
		}
		sel := e.sel
		e.list.UnselectAll()
		e.sel = ""
		e.list.Refresh()
		for i, it := range e.items {
			if it.ID == sel {
				e.list.Select(i)
			}
		}
		e.refreshDetail()
	})
}

func (e *emergencyScreen) selected() (app.EmergencyAccess, bool) {
	for _, it := range e.items {
		if it.ID == e.sel {
			return it, true
		}
	}
	return app.EmergencyAccess{}, false
}

// refreshDetail shows the selected access in full.
func (e *emergencyScreen) refreshDetail() {
	it, ok := e.selected()
	kit.Enable(e.review, ok && it.ReviewedAt.IsZero())
	if !ok {
		e.detail.SetText("Select an access to read the whole reason.")
		return
	}
	text := fmt.Sprintf("%s opened the chart of %s (%s) on %s. Reason given: \"%s\"", it.User, it.Patient, it.PatientMRN, dayTime(it.At), it.Reason)
	if !it.ReviewedAt.IsZero() {
		text += fmt.Sprintf("\nReviewed by %s on %s", it.ReviewedBy, dayTime(it.ReviewedAt))
		if it.Note != "" {
			text += ": " + it.Note
		}
	}
	e.detail.SetText(text)
}

// markReviewed asks for a note and records the review.
func (e *emergencyScreen) markReviewed() {
	it, ok := e.selected()
	if !ok || !it.ReviewedAt.IsZero() {
		return
	}
	note := kit.NewMultiLineEntry(e.s)
	note.SetPlaceHolder("for example: confirmed with Dr Haddad, the patient was seen in an emergency")
	note.SetMinRowsVisible(3)
	e.note = note
	content := container.New(kit.FixedWidth(480), container.NewVBox(
		kit.Wrapped(fmt.Sprintf("%s opened the chart of %s on %s, giving this reason:", it.User, it.Patient, dayTime(it.At))),
		kit.Card(kit.Wrapped(it.Reason)),
		kit.Bold("Your note (kept in the audit log)"),
		note,
	))
	var d *dialog.ConfirmDialog
	d = dialog.NewCustomConfirm("Mark emergency access reviewed", "Mark reviewed", "Cancel", content, func(yes bool) {
		kit.Touch(e.s)
		e.note, e.noteDialog = nil, nil
		if !yes {
			return
		}
		text := strings.TrimSpace(note.Text)
		if utf8.RuneCountInString(text) < 3 {
			e.status.Say(widget.DangerImportance, "The access was not marked reviewed: write a short note of what you checked.")
			return
		}
		var err error
		kit.Background(func() {
			err = e.s.ReviewEmergencyAccess(e.ctx, it.ID, text)
		}, func() {
			if err != nil {
				e.status.Say(widget.DangerImportance, "The access was not marked reviewed. "+plain.Error(err))
			} else {
				e.status.Say(widget.SuccessImportance, fmt.Sprintf("%s's emergency access to %s is marked reviewed.", it.User, it.Patient))
			}
			e.load()
		})
	}, e.win)
	e.noteDialog = d
	d.Show()
	e.win.Canvas().Focus(note)
}
