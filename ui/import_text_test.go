package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
)

// TestImportPreviewNamesSuspiciousRows: the preview says how the text was
// read when it was not UTF-8, and names the rows whose characters were
// probably not typed, from the plan's typed fields.
func TestImportPreviewNamesSuspiciousRows(t *testing.T) {
	if importTextNotes(&app.ImportPlan{Encoding: app.EncodingUTF8, Rows: []app.ImportRow{{Row: 2}}}) != nil {
		t.Fatal("a note for a plain UTF-8 sheet")
	}
	l := importTextNotes(&app.ImportPlan{Encoding: app.EncodingWindows1252})
	if l == nil || !strings.Contains(l.Text, "read as Windows-1252") || l.Importance == widget.WarningImportance {
		t.Fatalf("encoding note: %+v", l)
	}
	plan := &app.ImportPlan{Encoding: app.EncodingUTF16LE}
	for row := 2; row < 7; row++ {
		plan.Rows = append(plan.Rows, app.ImportRow{Row: row, Suspicious: []string{`column "Last Name": "M\uFFFDller" has U+FFFD (a character lost in an earlier conversion)`}})
	}
	plan.Refused = []app.ImportRow{{Row: 9, Suspicious: []string{"x"}}}
	l = importTextNotes(plan)
	if l == nil || l.Importance != widget.WarningImportance || !strings.Contains(l.Text, "read as UTF-16 LE") ||
		!strings.Contains(l.Text, `Row 2: Column "Last Name"`) || !strings.Contains(l.Text, "Row 4:") ||
		strings.Contains(l.Text, "Row 5:") || !strings.Contains(l.Text, "… and 3 more rows") {
		t.Fatalf("suspicious rows: %q", l.Text)
	}
}
