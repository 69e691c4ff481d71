package devices

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
)

// deviceTable lists the practice's computers, one row each, with wrapping
// cells so that a long problem is read in full. A practice has a handful
// of computers, so the rows are plain containers, not a virtual list.
type deviceTable struct {
	cols    kit.Columns
	headers []string
	// cells returns a device's cells after the name, as text and colour.
	cells func(d app.Device) []cellValue
	// actions, when set, returns the widgets of a row's last column.
	actions func(d app.Device) []fyne.CanvasObject

	rows  *fyne.Container
	empty *widget.Label
	view  fyne.CanvasObject
}

// cellValue is one cell's text and colour.
type cellValue struct {
	text string
	imp  widget.Importance
}

func newDeviceTable(cols kit.Columns, headers []string, cells func(app.Device) []cellValue, actions func(app.Device) []fyne.CanvasObject) *deviceTable {
	t := &deviceTable{cols: cols, headers: headers, cells: cells, actions: actions,
		rows: container.NewVBox(), empty: kit.Quiet("Loading the list of computers…")}
	var head []fyne.CanvasObject
	for _, h := range headers {
		head = append(head, kit.HeaderCell(h))
	}
	t.view = container.NewVBox(container.New(cols, head...), widget.NewSeparator(), t.empty, t.rows)
	return t
}

// set shows devs.
func (t *deviceTable) set(devs []app.Device) {
	t.rows.RemoveAll()
	if len(devs) == 0 {
		t.empty.SetText("No computers are listed yet.")
		t.empty.Show()
	} else {
		t.empty.Hide()
	}
	for i, d := range devs {
		name := kit.Bold(d.Name)
		if d.This {
			name.SetText(d.Name + " (this computer)")
		}
		cells := []fyne.CanvasObject{name}
		for _, c := range t.cells(d) {
			l := kit.Wrapped(c.text)
			l.Importance = c.imp
			cells = append(cells, l)
		}
		if t.actions != nil {
			cells = append(cells, container.NewVBox(container.NewHBox(t.actions(d)...)))
		}
		if i > 0 {
			t.rows.Add(widget.NewSeparator())
		}
		t.rows.Add(container.New(t.cols, cells...))
	}
	t.rows.Refresh()
}

// lastSeen is the "Last seen" cell.
func lastSeen(d app.Device) cellValue {
	switch {
	case d.This:
		return cellValue{"—", widget.MediumImportance} // the name says "(this computer)"
	case d.LastSeen.IsZero():
		return cellValue{"not yet", widget.MediumImportance}
	}
	return cellValue{ago(d.LastSeen), widget.MediumImportance}
}

// deviceStatus is the "Status" cell: revoked, the problem app recorded
// for the device, or no problems.
func deviceStatus(d app.Device) cellValue {
	switch {
	case !d.Revoked.IsZero():
		return cellValue{"Revoked on " + kit.Day(d.Revoked) + ": what it writes is refused.", widget.DangerImportance}
	case d.Halted:
		return cellValue{fmt.Sprintf("Stopped at its batch %d, refused: %s. Nothing it wrote after that is taken until the genuine batch is back in the folder, or an admin revokes this computer.",
			d.HaltedAt, d.HaltReason), widget.DangerImportance}
	case !d.Problem.IsZero():
		return cellValue{problemText(d.Problem), widget.WarningImportance}
	}
	return cellValue{"No problems", widget.SuccessImportance}
}

// problemText is a computer's problem in the window's words: from its
// kind and values where app's sentence is terse (keys not here yet, a
// clock ahead), app's sentence otherwise.
func problemText(p app.SyncProblem) string {
	switch p.Kind {
	case app.ProblemNoKey:
		return fmt.Sprintf("Batch %d is locked with newer keys (made when someone left or a computer was revoked) that have not reached this computer.", p.Seq)
	case app.ProblemClockAhead:
		return fmt.Sprintf("Its clock runs %s ahead of this computer's: its changes are held until its date and time are fixed.", kit.Duration(p.Wait))
	}
	return kit.Sentence(p.Detail)
}

// nameProblems words a report's problems, each about another computer
// named by its name ("“Front desk”: …").
func nameProblems(problems []app.SyncProblem, devs []app.Device) []string {
	names := map[string]string{}
	for _, d := range devs {
		names[d.ID] = d.Name
	}
	out := make([]string, 0, len(problems))
	for _, p := range problems {
		text := problemText(p)
		if p.Device != "" {
			who := "A computer not in the list yet (" + shortID(p.Device) + ")"
			if n, ok := names[p.Device]; ok {
				who = "“" + n + "”"
			}
			text = who + ": " + lowerFirst(text)
		}
		out = append(out, text)
	}
	return out
}

// lowerFirst is s with its first letter in lower case, to follow a colon.
func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}

// shortID names a computer not in the roster yet by the random end of its
// id.
func shortID(id string) string {
	if len(id) > 8 {
		return id[len(id)-8:]
	}
	return id
}

// summary says what a pass did: "Sent 2, received 5, 1 refused". Counts
// that are zero are left out.
func summary(rep app.SyncReport) string {
	var parts []string
	if rep.Sent > 0 {
		parts = append(parts, fmt.Sprintf("sent %d", rep.Sent))
	}
	if rep.Applied > 0 {
		parts = append(parts, fmt.Sprintf("received %d", rep.Applied))
	}
	if rep.Sealed > 0 {
		parts = append(parts, fmt.Sprintf("%d kept sealed until a clinician signs in here", rep.Sealed))
	}
	if rep.Refused > 0 {
		parts = append(parts, fmt.Sprintf("%d refused", rep.Refused))
	}
	if len(parts) == 0 {
		return "Nothing new to send or receive"
	}
	out := strings.Join(parts, ", ")
	return strings.ToUpper(out[:1]) + out[1:]
}

// reportText is a pass's result in words: the summary, then each problem
// on a line of its own (after a colon when batches were refused: the
// problems say why).
func reportText(rep app.SyncReport, devs []app.Device) string {
	s := summary(rep)
	problems := nameProblems(rep.Problems, devs)
	if len(problems) == 0 {
		return s + "."
	}
	if rep.Refused > 0 {
		s += ":"
	} else {
		s += "."
	}
	return s + "\n• " + strings.Join(problems, "\n• ")
}
