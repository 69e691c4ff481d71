package admin

import (
	"context"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
)

// reminderBar is the notice Reminders puts above the window's content.
type reminderBar struct {
	win     fyne.Window
	content fyne.CanvasObject // the window's content before the bar
	wrapper *fyne.Container   // the bar above content
	notice  *kit.Notice
	list    *fyne.Container // the reminders after the first, shown on asking
	// buttons by label, for tests.
	buttons map[string]*widget.Button
}

// Reminders reads the after-sign-in reminders (s.Reminders) off the UI
// thread and, when there is anything to say, shows it in a bar above the
// window's content: the user's overdue lessons and, for admins, the
// emergency accesses awaiting review and what the Security Center flags,
// with buttons that call goTo(ScreenTraining) or goTo(ScreenSecurity).
// The bar is not a dialog: the window stays usable, and the bar goes when
// dismissed, when a button is used, or when the session locks.
func Reminders(win fyne.Window, s *app.Session, goTo func(string)) {
	showReminders(win, s, goTo, nil)
}

// showReminders is Reminders; shown, when not nil, receives the bar (or
// nil when there was nothing to show), for tests.
func showReminders(win fyne.Window, s *app.Session, goTo func(string), shown func(*reminderBar)) {
	var r app.Reminders
	var err error
	kit.Background(func() {
		r, err = s.Reminders(context.Background())
	}, func() {
		if err != nil || s.Locked() {
			// Reminders are a courtesy: a failure to read them must not
			// get in the way after sign-in.
			if err != nil {
				fyne.LogError("reminders", err)
			}
			if shown != nil {
				shown(nil)
			}
			return
		}
		bar := newReminderBar(win, s, r, goTo)
		if bar != nil {
			s.OnLock(func() { kit.Post(bar.dismiss) })
		}
		if shown != nil {
			shown(bar)
		}
	})
}

// reminderLines says the reminders in short lines, and which screens
// they lead to.
func reminderLines(r app.Reminders) (lines []string, training, security bool) {
	switch n := len(r.OverdueLessons); {
	case n == 1:
		lines = append(lines, fmt.Sprintf("Your security training: the lesson \"%s\" is overdue.", r.OverdueLessons[0]))
	case n > 1 && n <= 3:
		lines = append(lines, fmt.Sprintf("Your security training: %d lessons are overdue (%s).", n, strings.Join(r.OverdueLessons, "; ")))
	case n > 3:
		lines = append(lines, fmt.Sprintf("Your security training: %d lessons are overdue. Each takes a few minutes.", n))
	}
	training = len(r.OverdueLessons) > 0
	if r.PendingReviews == 1 {
		lines = append(lines, "1 emergency access to a restricted chart awaits your review.")
	} else if r.PendingReviews > 1 {
		lines = append(lines, fmt.Sprintf("%d emergency accesses to restricted charts await your review.", r.PendingReviews))
	}
	security = r.PendingReviews > 0
	for _, a := range r.Attention {
		if strings.HasPrefix(a, "Emergency accesses awaiting review") {
			continue // said above
		}
		lines = append(lines, kit.Sentence(a))
		security = true
	}
	return lines, training, security
}

// newReminderBar shows the bar, or returns nil when there is nothing to
// remind (or the person dismissed it today). The bar takes one line: the
// first reminder and how many more, with "Show all" for the rest, so
// that it does not push the day's work down at 1024×700.
func newReminderBar(win fyne.Window, s *app.Session, r app.Reminders, goTo func(string)) *reminderBar {
	lines, training, security := reminderLines(r)
	if len(lines) == 0 || r.DismissedToday {
		return nil
	}
	b := &reminderBar{win: win, content: win.Content(), buttons: map[string]*widget.Button{}}
	var btns []fyne.CanvasObject
	add := func(label string, icon fyne.Resource, screen string) {
		btn := widget.NewButtonWithIcon(label, icon, kit.Act(s, func() {
			b.dismiss()
			if goTo != nil {
				goTo(screen)
			}
		}))
		b.buttons[label] = btn
		btns = append(btns, btn)
	}
	if training {
		add("Open training", theme.DocumentIcon(), ScreenTraining)
	}
	if security && s.User().Role == app.Admin {
		add("Open Security Center", theme.WarningIcon(), ScreenSecurity)
	}
	list := container.New(kit.TightVBox(-10))
	for _, line := range lines[1:] {
		list.Add(container.NewBorder(nil, nil, widget.NewLabel("•"), nil, kit.Wrapped(line)))
	}
	list.Hide()
	if len(lines) > 1 {
		var more *widget.Button
		more = widget.NewButton(fmt.Sprintf("Show all (%d)", len(lines)), kit.Act(s, func() {
			if list.Visible() {
				list.Hide()
				more.SetText(fmt.Sprintf("Show all (%d)", len(lines)))
			} else {
				list.Show()
				more.SetText("Show fewer")
			}
			b.wrapper.Refresh()
		}))
		b.buttons["Show all"] = more
		btns = append(btns, more)
	}
	later := widget.NewButtonWithIcon("Dismiss for today", theme.CancelIcon(), kit.Act(s, func() {
		b.dismiss()
		if err := s.DismissReminders(context.Background()); err != nil {
			fyne.LogError("reminders", err)
		}
	}))
	later.Importance = widget.LowImportance
	b.buttons["Dismiss"] = later
	btns = append(btns, later)

	first := kit.Wrapped(lines[0])
	first.Truncation = fyne.TextTruncateEllipsis
	first.Wrapping = fyne.TextWrapOff
	row := container.NewBorder(nil, nil, nil, container.NewHBox(btns...), first)
	b.list = list
	b.notice = kit.NewNotice(kit.ToneWarning, "", "")
	b.notice.Below = container.NewVBox(row, list)
	b.wrapper = container.NewBorder(container.NewVBox(b.notice, layout.NewSpacer()), nil, nil, nil, b.content)
	win.SetContent(b.wrapper)
	return b
}

// dismiss takes the bar away, unless the window shows something else by
// now (after a lock the sign-in screen replaces everything).
func (b *reminderBar) dismiss() {
	if b.win.Content() == b.wrapper {
		b.win.SetContent(b.content)
	}
}
