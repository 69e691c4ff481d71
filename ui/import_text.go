package ui

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
)

// importTextNotes says, in the import preview, how a sheet's text was
// read when it was not UTF-8, and which rows hold characters that were
// probably not typed (app.ImportRow.Suspicious), for someone to check
// before importing. Nil when there is nothing to say.
func importTextNotes(plan *app.ImportPlan) *widget.Label {
	lines := suspiciousLines(plan, 3)
	if len(lines) == 0 && (plan.Encoding == "" || plan.Encoding == app.EncodingUTF8) {
		return nil
	}
	var head []string
	if plan.Encoding != "" && plan.Encoding != app.EncodingUTF8 {
		head = append(head, fmt.Sprintf("The file's text was read as %s.", plan.Encoding))
	}
	if len(lines) > 0 {
		head = append(head, "Some characters may not be what was typed (a file saved in another encoding, or converted before): check these rows before importing.")
	}
	l := kit.Wrapped(strings.Join(append(head, lines...), "\n"))
	if len(lines) > 0 {
		l.Importance = widget.WarningImportance
	}
	return l
}

// suspiciousLines is "Row n: …" for the first max rows of the plan with
// suspicious characters, and a line saying how many more.
func suspiciousLines(plan *app.ImportPlan, max int) []string {
	var out []string
	rows := 0
	for _, list := range [][]app.ImportRow{plan.Rows, plan.Noted, plan.Registered, plan.Refused} {
		for _, r := range list {
			if len(r.Suspicious) == 0 {
				continue
			}
			if rows < max {
				out = append(out, fmt.Sprintf("Row %d: %s", r.Row, kit.Sentence(strings.Join(r.Suspicious, "; "))))
			}
			rows++
		}
	}
	if rows > max {
		out = append(out, "… and "+kit.Plural(rows-max, "more row"))
	}
	return out
}
