package app

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeWorkbook writes a workbook by hand, part by part, its sheet (and
// shared strings, when given) streamed by the functions given: a hostile
// file as an attacker would make it, not as a spreadsheet program would.
func writeWorkbook(t testing.TB, path string, sheet func(w io.Writer), shared func(w io.Writer)) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z := zip.NewWriter(f)
	part := func(name, text string) {
		w, err := z.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, text)
	}
	part("[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`)
	part("_rels/.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`)
	part("xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Patients" sheetId="1" r:id="rId1"/></sheets></workbook>`)
	part("xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`)
	w, err := z.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>`)
	sheet(w)
	io.WriteString(w, `</sheetData></worksheet>`)
	if shared != nil {
		w, err := z.Create("xl/sharedStrings.xml")
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
		shared(w)
		io.WriteString(w, `</sst>`)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
}

// headerRow is a sheet's header as inline strings.
const headerRow = `<row r="1"><c r="A1" t="inlineStr"><is><t>Last Name</t></is></c><c r="B1" t="inlineStr"><is><t>First Name</t></is></c><c r="C1" t="inlineStr"><is><t>Date of Birth</t></is></c><c r="D1" t="inlineStr"><is><t>Notes</t></is></c></row>`

// sheetPatientRow is a row of a patient, with a note of the length given.
func sheetPatientRow(n, note int) string {
	return fmt.Sprintf(`<row r="%d"><c r="A%d" t="inlineStr"><is><t>Family%d</t></is></c><c r="B%d" t="s"><v>0</v></c><c r="C%d"><v>%d</v></c><c r="D%d" t="inlineStr"><is><t>%s</t></is></c></row>`,
		n, n, n, n, n, 20000+n%9000, n, strings.Repeat("n", note))
}

// TestWorkbookReadAsAStream: a workbook written by hand (shared and
// inline strings, rich-text runs, a phonetic run, cells named out of
// order and missing, an Excel date number, a namespace prefix) reads as
// a spreadsheet program shows it.
func TestWorkbookReadAsAStream(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	path := filepath.Join(t.TempDir(), "hand.xlsx")
	writeWorkbook(t, path, func(w io.Writer) {
		io.WriteString(w, headerRow)
		// Row 3 (row 2 is missing): cells C, A, B; B a shared string of two runs.
		io.WriteString(w, `<row r="3"><c r="C3"><v>29282</v></c><c r="A3" t="inlineStr"><is><r><t>Nú</t></r><r><t>ñez</t></r></is></c><c r="B3" t="s"><v>1</v></c></row>`)
		// No cell names: in order; a phonetic run that is not the text.
		io.WriteString(w, `<row><c t="s"><v>0</v></c><c t="inlineStr"><is><t>Zoë</t><rPh><t>ぞえ</t></rPh></is></c><c t="str"><f>TEXT(1)</f><v>1975-05-06</v></c></row>`)
	}, func(w io.Writer) {
		io.WriteString(w, `<si><t>Brontë &amp; Co</t></si><si><r><t>Jo</t></r><r><t>sé</t></r></si>`)
	})
	plan, err := s.PlanImport(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Rows) != 2 || plan.Count.Refused != 0 {
		t.Fatalf("rows %+v, refused %+v", plan.Rows, plan.Refused)
	}
	a, b := plan.Rows[0], plan.Rows[1]
	if a.Row != 3 || a.Patient.Family != "Núñez" || a.Patient.Given != "José" || a.Patient.DOB != "1980-03-02" {
		t.Fatalf("row 3: %+v", a)
	}
	if b.Row != 4 || b.Patient.Family != "Brontë & Co" || b.Patient.Given != "Zoë" || b.Patient.DOB != "1975-05-06" {
		t.Fatalf("row 4: %+v", b)
	}
}

// TestAttackHostileWorkbooks (#15, item 1): workbooks made to exhaust
// memory are refused as soon as they show themselves, holding little:
// a 64 MB cell (the 512 MB limit's little brother: excelize unpacked
// all of it, and more), 20,000 columns, elements nested a million deep,
// 600,000 empty rows, shared strings past the limit, a shared string
// that is not there, row numbers going back, and a packed file over
// 64 MB. Each is an ErrUnreadableSheet with a sentence, none panics.
func TestAttackHostileWorkbooks(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	dir := t.TempDir()
	oneName := func(w io.Writer) { io.WriteString(w, `<si><t>Ann</t></si>`) }
	cases := []struct {
		name   string
		sheet  func(w io.Writer)
		shared func(w io.Writer)
		want   error
		says   string
	}{
		{"huge-cell", func(w io.Writer) {
			io.WriteString(w, headerRow+`<row r="2"><c r="A2" t="inlineStr"><is><t>`)
			chunk := strings.Repeat("A", 1<<20)
			for range 64 {
				io.WriteString(w, chunk)
			}
			io.WriteString(w, `</t></is></c></row>`)
		}, nil, ErrUnreadableSheet, "row 2: a cell holds more than 32767 characters"},
		{"huge-attribute", func(w io.Writer) {
			io.WriteString(w, headerRow+`<row r="2"><c r="A2" t="`+strings.Repeat("s", 8<<20)+`"><v>0</v></c></row>`)
		}, nil, ErrUnreadableSheet, "a run of more than 4 MB of text"},
		{"long-cell", func(w io.Writer) {
			io.WriteString(w, headerRow+sheetPatientRow(2, 40000))
		}, oneName, ErrUnreadableSheet, "more than 32767 characters"},
		{"wide", func(w io.Writer) {
			io.WriteString(w, headerRow+`<row r="2">`)
			for i := range 20000 {
				fmt.Fprintf(w, `<c><v>%d</v></c>`, i)
			}
			io.WriteString(w, `</row>`)
		}, nil, ErrUnreadableSheet, "more than 16384 columns"},
		{"wide-named", func(w io.Writer) {
			io.WriteString(w, headerRow+`<row r="2"><c r="ZZZZZ2"><v>1</v></c></row>`)
		}, nil, ErrUnreadableSheet, "more than 16384 columns"},
		{"deep", func(w io.Writer) {
			io.WriteString(w, headerRow)
			for range 1_000_000 {
				io.WriteString(w, `<a>`)
			}
		}, nil, ErrUnreadableSheet, "nested too deep"},
		{"rows", func(w io.Writer) {
			io.WriteString(w, headerRow)
			for i := range 600_000 {
				fmt.Fprintf(w, `<row r="%d"/>`, i+2)
			}
		}, nil, ErrImportTooLarge, "more than 500000 rows"},
		{"shared-bomb", func(w io.Writer) { io.WriteString(w, headerRow) }, func(w io.Writer) {
			si := strings.Repeat(`<si><t>x</t></si>`, 1<<16)
			for range (maxSharedStrings + 1<<20) / len(si) {
				io.WriteString(w, si)
			}
		}, ErrUnreadableSheet, "more than 128 MB of text"},
		{"shared-missing", func(w io.Writer) {
			io.WriteString(w, headerRow+sheetPatientRow(2, 1)+`<row r="3"><c r="B3" t="s"><v>7</v></c></row>`)
		}, oneName, ErrUnreadableSheet, "shared text"},
		{"rows-back", func(w io.Writer) { io.WriteString(w, headerRow+sheetPatientRow(5, 1)+sheetPatientRow(4, 1)) }, oneName, ErrUnreadableSheet, "not after the row before"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".xlsx")
			writeWorkbook(t, path, c.sheet, c.shared)
			var err error
			peak := peakDuring(func() { _, err = s.PlanImport(context.Background(), path) })
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("%v; want %v saying %q", err, c.want, c.says)
			}
			if peak > 64<<20 {
				t.Fatalf("refusing it held %d MB", peak>>20)
			}
		})
	}
	big := filepath.Join(dir, "big.xlsx")
	if err := os.WriteFile(big, make([]byte, maxWorkbookFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PlanImport(context.Background(), big); !errors.Is(err, ErrImportTooLarge) {
		t.Fatalf("a packed file over %d MB: %v", maxWorkbookFile>>20, err)
	}
}

// FuzzWorkbookSheet: whatever a sheet's XML holds, reading it ends in
// rows or an error, never a panic or a hang.
func FuzzWorkbookSheet(f *testing.F) {
	f.Add([]byte(headerRow + sheetPatientRow(2, 3)))
	f.Add([]byte(`<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c t="inlineStr"><is><r><t>a</t></r></is></c></row>`))
	f.Add([]byte(`<row r="0"/><row r="-1"><c r="A"/></row><c><v>1</v></c>`))
	f.Add([]byte(`<row><c r="AAAAAAAAAAAAAAAAAAAAA1"/></row></sheetData><sheetData>`))
	fx := newFixture(f)
	s := fx.mustSignIn("Maria Admin", adminPass)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, sheet []byte) {
		path := filepath.Join(dir, "fuzz.xlsx")
		writeWorkbook(t, path, func(w io.Writer) { w.Write(sheet) }, func(w io.Writer) { io.WriteString(w, `<si><t>Ann</t></si>`) })
		plan, err := s.PlanImport(context.Background(), path)
		if err == nil && plan.Count.Import+plan.Count.Refused+plan.Count.Registered > 0 && len(plan.Headers) == 0 {
			t.Fatalf("rows without a header: %+v", plan)
		}
	})
}
