package admin

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// securityCenter is the admins' checklist with the seat limit.
type securityCenter struct {
	win  fyne.Window
	s    *app.Session
	ctx  context.Context
	goTo func(string)

	items   []app.CheckItem
	summary *kit.Notice
	rows    *fyne.Container
	refresh *widget.Button
	// fix holds each item's button by item ID, for tests.
	fix map[string]*widget.Button

	seats      *widget.Label
	seatEntry  *kit.Entry
	seatSave   *widget.Button
	seatStatus *kit.StatusText
	view       fyne.CanvasObject
}

// NewSecurityCenter is the admins' Security Center: a checklist of the
// practice's safeguards (s.SecurityReport) with a status icon and colour
// per item and a button that calls goTo with the item's Fix screen, and
// the seat limit with a field to change it.
func NewSecurityCenter(win fyne.Window, s *app.Session, goTo func(screen string)) fyne.CanvasObject {
	return newSecurityCenter(win, s, goTo).view
}

func newSecurityCenter(win fyne.Window, s *app.Session, goTo func(string)) *securityCenter {
	c := &securityCenter{win: win, s: s, ctx: context.Background(), goTo: goTo, fix: map[string]*widget.Button{},
		seatStatus: kit.NewStatus(widget.MediumImportance)}
	c.summary = kit.NewNotice(kit.ToneInfo, "Checking…", "")
	c.rows = container.NewVBox()
	c.refresh = widget.NewButtonWithIcon("Check again", theme.ViewRefreshIcon(), kit.Act(s, c.load))
	c.seats = kit.Wrapped("")
	c.seatEntry = kit.NewEntry(s)
	c.seatEntry.SetPlaceHolder("0")
	c.seatEntry.OnSubmitted = func(string) { kit.Touch(s); c.saveSeats() }
	c.seatSave = widget.NewButton("Save", kit.Act(s, c.saveSeats))

	if s.User().Role != app.Admin {
		c.view = kit.Page(container.NewVBox(kit.Heading("Security Center"),
			kit.NewNotice(kit.ToneInfo, "For admins", "The Security Center is for the practice's admins. Ask one if something looks wrong.")))
		return c
	}
	seatsCard := kit.Card(container.NewVBox(
		kit.Subheading("Seat limit"),
		c.seats,
		container.NewHBox(widget.NewLabel("Allow at most"), container.New(kit.FixedWidth(80), c.seatEntry),
			widget.NewLabel("accounts (0 for no limit)"), c.seatSave),
		c.seatStatus,
	))
	c.view = kit.Page(container.NewVBox(
		container.NewBorder(nil, nil, nil, c.refresh, kit.Heading("Security Center")),
		kit.Wrapped("The practice's safeguards at a glance. Anything marked \"Needs attention\" has a button that opens the screen where you fix it."),
		c.summary,
		kit.Card(c.rows),
		seatsCard,
	))
	c.load()
	return c
}

// load runs the checks and reads the seat limit off the UI thread.
func (c *securityCenter) load() {
	var items []app.CheckItem
	var limit int
	var err, limitErr error
	kit.Enable(c.refresh, false)
	kit.Background(func() {
		items, err = c.s.SecurityReport(c.ctx)
		limit, limitErr = c.s.SeatLimit(c.ctx)
	}, func() {
		kit.Enable(c.refresh, true)
		if err != nil {
			c.summary.Set(kit.ToneDanger, "The checks could not run", plain.Error(err))
			return
		}
		c.items = items
		c.showItems()
		if limitErr == nil {
			c.showSeats(limit)
		}
	})
}

// itemTone is a check's colour and status word.
func itemTone(status string) (kit.Tone, string) {
	switch status {
	case "ok":
		return kit.ToneOK, "OK"
	case "attention":
		return kit.ToneDanger, "Needs attention"
	}
	return kit.ToneInfo, "For information"
}

// itemDetail says an item's detail in a few more words where the report
// gives only a number.
func itemDetail(it app.CheckItem) string {
	switch it.ID {
	case "failed-signins":
		return it.Detail + " (ten or more in a day needs attention: someone may be guessing passphrases)"
	case "seats":
		// The report says "1 accounts".
		if strings.HasPrefix(it.Detail, "1 accounts") {
			return "1 account" + strings.TrimPrefix(it.Detail, "1 accounts")
		}
		return it.Detail
	case "emergency":
		if it.Detail == "0" {
			return "none"
		}
		return it.Detail + " waiting: each needs an admin's note"
	}
	return it.Detail
}

// showItems rebuilds the checklist.
func (c *securityCenter) showItems() {
	attention := 0
	c.rows.RemoveAll()
	c.fix = map[string]*widget.Button{}
	for i, it := range c.items {
		t, word := itemTone(it.Status)
		if it.Status == "attention" {
			attention++
		}
		icon := widget.NewIcon(t.Icon())
		title := kit.Bold(it.Title)
		detail := kit.Wrapped(itemDetail(it))
		state := widget.NewLabelWithStyle(word, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true})
		switch t {
		case kit.ToneOK:
			state.Importance = widget.SuccessImportance
		case kit.ToneDanger:
			state.Importance = widget.DangerImportance
		}
		right := []fyne.CanvasObject{container.New(kit.FixedWidth(130), state)}
		if it.Fix != "" {
			label, imp := "Open…", widget.MediumImportance
			if it.Status == "attention" {
				label, imp = "Fix…", widget.HighImportance
			}
			fix := it.Fix
			btn := widget.NewButton(label, kit.Act(c.s, func() {
				if c.goTo != nil {
					c.goTo(fix)
				}
			}))
			btn.Importance = imp
			c.fix[it.ID] = btn
			right = append(right, container.New(kit.FixedWidth(80), btn))
		}
		row := container.NewBorder(nil, nil,
			container.NewVBox(container.NewPadded(icon)),
			container.NewVBox(container.NewHBox(right...)),
			container.New(kit.TightVBox(-8), title, detail))
		if i > 0 {
			c.rows.Add(widget.NewSeparator())
		}
		c.rows.Add(row)
	}
	c.rows.Refresh()
	switch {
	case attention == 0:
		c.summary.Set(kit.ToneOK, "Everything checked is in order", fmt.Sprintf("All %d checks pass. Look again after staff changes, and at least once a month.", len(c.items)))
	case attention == 1:
		c.summary.Set(kit.ToneDanger, "1 item needs attention", "Press \"Fix…\" beside it.")
	default:
		c.summary.Set(kit.ToneDanger, fmt.Sprintf("%d items need attention", attention), "Press \"Fix…\" beside each one.")
	}
}

// showSeats shows the seat limit.
func (c *securityCenter) showSeats(limit int) {
	accounts := ""
	for _, it := range c.items {
		if it.ID == "seats" {
			accounts = it.Detail
		}
	}
	if limit == 0 {
		c.seats.SetText("There is no seat limit: admins may add any number of accounts. " +
			"A limit stops accounts being added beyond what the practice pays for or expects. " + kit.Sentence(accounts))
	} else {
		c.seats.SetText(fmt.Sprintf("At most %d accounts. %s", limit, kit.Sentence(accounts)))
	}
	c.seatEntry.SetText(strconv.Itoa(limit))
}

// saveSeats saves the seat limit.
func (c *securityCenter) saveSeats() {
	n, err := strconv.Atoi(strings.TrimSpace(c.seatEntry.Text))
	if err != nil || n < 0 {
		c.seatStatus.Say(widget.DangerImportance, "Type a whole number of accounts, or 0 for no limit.")
		return
	}
	kit.Enable(c.seatSave, false)
	kit.Background(func() {
		err = c.s.SetSeatLimit(c.ctx, n)
	}, func() {
		kit.Enable(c.seatSave, true)
		if err != nil {
			c.seatStatus.Say(widget.DangerImportance, "The seat limit was not changed. "+plain.Error(err))
			return
		}
		if n == 0 {
			c.seatStatus.Say(widget.SuccessImportance, "Saved: there is no seat limit.")
		} else {
			c.seatStatus.Say(widget.SuccessImportance, fmt.Sprintf("Saved: the practice may have at most %d accounts.", n))
		}
		c.load()
	})
}
