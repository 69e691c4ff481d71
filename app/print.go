package app

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/go-pdf/fpdf"
)

// VisitSummaryPDF renders one encounter as a printable visit summary:
// patient, visit, SOAP note with addenda, allergies, active problems,
// medications and the visit's vital signs. It is written only where the
// user chooses, and the print is audited.
func (s *Session) VisitSummaryPDF(ctx context.Context, mrn, encounterID string) ([]byte, error) {
	if err := s.requireClinical(); err != nil {
		return nil, err
	}
	c, err := s.loadChartForExport(ctx, mrn)
	if err != nil {
		return nil, err
	}
	if !c.Clinical {
		return nil, ErrRestricted
	}
	var e *Encounter
	for i := range c.Encounters {
		if c.Encounters[i].ID == encounterID {
			e = &c.Encounters[i]
		}
	}
	if e == nil {
		return nil, fmt.Errorf("encounter %s of %s: %w", encounterID, c.Patient.MRN, ErrNotFound)
	}
	pdf := fpdf.New("P", "mm", "A4", "")
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.SetTitle("Visit summary", true)
	pdf.SetAutoPageBreak(true, 15)
	pdf.AddPage()
	p := c.Patient
	pdf.SetFont("Helvetica", "B", 16)
	pdf.CellFormat(0, 9, tr(s.Practice()+" — visit summary"), "", 1, "L", false, 0, "")
	pdf.SetFont("Helvetica", "", 11)
	pdf.CellFormat(0, 6, tr(fmt.Sprintf("%s   MRN %s   born %s   %s", p.Name(), p.MRN, p.DOB, p.Sex)), "", 1, "L", false, 0, "")
	state := "draft (not signed)"
	if e.Signed() {
		state = "signed by " + e.SignedBy + " on " + e.SignedAt.Local().Format("2 Jan 2006")
	}
	pdf.CellFormat(0, 6, tr(fmt.Sprintf("Visit %s with %s — %s", e.SeenAt.Local().Format("2 January 2006 15:04"), e.Clinician, state)), "", 1, "L", false, 0, "")
	pdf.Ln(3)
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		pdf.SetFont("Helvetica", "B", 12)
		pdf.CellFormat(0, 7, tr(title), "", 1, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10.5)
		for _, l := range lines {
			pdf.MultiCell(0, 5.5, tr(l), "", "L", false)
		}
		pdf.Ln(2)
	}
	for _, sec := range []struct{ k, v string }{{"Subjective", e.Subjective}, {"Objective", e.Objective}, {"Assessment", e.Assessment}, {"Plan", e.Plan}} {
		if sec.v != "" {
			section(sec.k, []string{sec.v})
		}
	}
	var add []string
	for _, a := range e.Addenda {
		add = append(add, fmt.Sprintf("%s, %s: %s", a.Created.Local().Format("2 Jan 2006 15:04"), a.Author, a.Text))
	}
	section("Addenda", add)
	var al []string
	for _, a := range c.Allergies {
		al = append(al, strings.TrimSpace(fmt.Sprintf("%s — %s %s", a.Substance, a.Reaction, a.Severity)))
	}
	section("Allergies", al)
	var pr []string
	for _, x := range c.Problems {
		if x.Status == "active" {
			pr = append(pr, strings.TrimSpace(x.Description+" "+x.ICD10))
		}
	}
	section("Active problems", pr)
	var meds []string
	for _, m := range c.Medications {
		if m.Stop == "" {
			meds = append(meds, strings.TrimSpace(strings.Join([]string{m.Name, m.Dose, m.Route, m.Frequency}, " ")))
		}
	}
	section("Medications", meds)
	var vit []string
	for _, v := range c.Vitals {
		if v.TakenAt.Local().Format("2006-01-02") != e.SeenAt.Local().Format("2006-01-02") {
			continue
		}
		vit = append(vit, v.TakenAt.Local().Format("15:04")+": "+v.Summary())
	}
	section("Vital signs at this visit", vit)
	pdf.SetFont("Helvetica", "I", 8.5)
	pdf.CellFormat(0, 5, tr("Confidential patient information. Printed "+s.v.now().Local().Format("2 January 2006 15:04")+" by "+s.User().Name+"."), "", 1, "L", false, 0, "")
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, err
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		return audit(ctx, tx, s.v.now(), s.actor(), "print", p.MRN, "visit summary of encounter "+e.ID)
	})
	return buf.Bytes(), err
}
