package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Attacks on the streamed import (#15, item 1), written from the side of
// a hostile file or of an insider who can change a file between its
// preview and its import. The goal they check: memory bounded by design
// (at most 300 MB whatever the file), hostile files refused early with a
// clear message, and nothing imported that the preview did not show.

const attackHeapBudget = 300 << 20

// writeBig writes a file through fn, buffered (files of hundreds of MB).
func writeBig(t *testing.T, name string, fn func(w *bufio.Writer)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fn(w)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// replaceFile puts data at path as a new file (written aside, renamed
// over it): a reader that has the old file open goes on reading it, one
// that opens the path afterwards reads the new one.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestAttackImportCSVRowCapBypassed: the 500,000-row cap of an import
// holds for workbooks (the XLSX reader counts) and bundles, but a CSV is
// read to its end whatever its length: 600,000 rows are previewed (and
// every refused one kept in the skip set: a 30 MB file of ten million
// "x,y," rows holds a map of ten million row numbers).
func TestAttackImportCSVRowCapBypassed(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	path := writeBig(t, "rows.csv", func(w *bufio.Writer) {
		w.WriteString("Last Name,First Name,DOB\n")
		for range maxImportRows + 100_000 {
			w.WriteString("x,y,\n") // no date of birth: refused, kept in the skip set
		}
	})
	plan, err := s.PlanImport(context.Background(), path)
	if !errors.Is(err, ErrImportTooLarge) {
		n := 0
		if plan != nil {
			n = plan.Count.Refused + plan.Count.Import
		}
		t.Fatalf("a CSV of %d rows: previewed %d rows (%v); want ErrImportTooLarge like a workbook's", maxImportRows+100_000, n, err)
	}
}

// TestAttackImportCSVOneHugeRecord: a CSV of one quoted cell of 150 MB
// (an "honest" file of one line would do the same) is held whole by
// encoding/csv (its line buffer, its record buffer and the field's
// string, each grown by doubling): well over the import's 300 MB.
func TestAttackImportCSVOneHugeRecord(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	const size = 150 << 20
	path := writeBig(t, "one-cell.csv", func(w *bufio.Writer) {
		w.WriteString("Last Name,First Name,DOB,Notes\nDoe,Jane,1980-01-02,\"")
		line := strings.Repeat("n", 1023) + "\n" // lines of 1 KB: no "line" is long
		for range size / 1024 {
			w.WriteString(line)
		}
		w.WriteString("\"\n")
	})
	var err error
	peak := peakDuring(func() { _, err = s.PlanImport(context.Background(), path) })
	if peak > attackHeapBudget {
		t.Fatalf("previewing a %d MB CSV of one cell held %d MB of heap (%v); want at most %d MB, or the file refused early", size>>20, peak>>20, err, attackHeapBudget>>20)
	}
}

// sharedEmoji is a shared-strings part of one text of the longest a cell
// may hold (32,767 characters), in four-byte characters: 128 KB that
// every cell naming it becomes.
func sharedEmoji(w io.Writer) {
	io.WriteString(w, "<si><t>"+strings.Repeat("😀", maxCellRunes)+"</t></si>")
}

// TestAttackImportXLSXSharedStringRow: a workbook of a few hundred KB
// whose data row is 4,000 cells all naming one shared string of 32,767
// characters: each cell is a copy of the string (128 KB), so the one row
// is 512 MB of heap. The limits (32,767 characters a cell, 16,384
// columns) allow 2 GB for one row.
func TestAttackImportXLSXSharedStringRow(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	path := filepath.Join(t.TempDir(), "wide.xlsx")
	writeWorkbook(t, path, func(w io.Writer) {
		io.WriteString(w, headerRow)
		io.WriteString(w, `<row r="2">`)
		for range 4000 {
			io.WriteString(w, `<c t="s"><v>0</v></c>`)
		}
		io.WriteString(w, `</row>`)
	}, sharedEmoji)
	st, _ := os.Stat(path)
	var err error
	peak := peakDuring(func() { _, err = s.PlanImport(context.Background(), path) })
	if peak > attackHeapBudget {
		t.Fatalf("previewing a workbook of %d KB held %d MB of heap (%v); want at most %d MB, or the row refused", st.Size()>>10, peak>>20, err, attackHeapBudget>>20)
	}
}

// TestAttackImportListedRowsKeepWholeCells: the plan lists up to 1,000
// refused rows (and 200 to import, 1,000 registered), each with its whole
// Patient. A small workbook of 300 rows, each a dozen cells naming one
// shared string of 128 KB, refused (the names are too long), makes a plan
// of about 600 MB: the rows were streamed, but the lists hold them.
func TestAttackImportListedRowsKeepWholeCells(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	headers := []string{"Last Name", "First Name", "Date of Birth", "Preferred Name", "Email", "Insurance", "Next of kin", "Notes",
		"Address", "Street", "City", "Town", "Address 2", "Address line 1", "Address line 2", "Street address"}
	path := filepath.Join(t.TempDir(), "refused.xlsx")
	writeWorkbook(t, path, func(w io.Writer) {
		io.WriteString(w, `<row>`)
		for _, h := range headers {
			fmt.Fprintf(w, `<c t="inlineStr"><is><t>%s</t></is></c>`, h)
		}
		io.WriteString(w, `</row>`)
		for range 300 {
			io.WriteString(w, `<row>`)
			for range headers {
				io.WriteString(w, `<c t="s"><v>0</v></c>`)
			}
			io.WriteString(w, `</row>`)
		}
	}, sharedEmoji)
	st, _ := os.Stat(path)
	var plan *ImportPlan
	var err error
	_, live := peaksDuring(func() { plan, err = s.PlanImport(context.Background(), path) })
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	if live > attackHeapBudget {
		t.Fatalf("the preview of a workbook of %d KB (%d refused rows) holds %d MB live; want at most %d MB (listed rows clipped for showing)", st.Size()>>10, plan.Count.Refused, live>>20, attackHeapBudget>>20)
	}
}

// TestAttackImportSuspiciousCellsQuoteWholeHeaders: each suspicious cell
// of a row is noted as `column "<its header>": …` with the whole header,
// for every column: a CSV of 1,000 columns named with 5,000 characters
// and 150 rows of U+FFFD cells (a 6 MB file) makes rows whose notes hold
// 5 MB each, all kept (the first 200 rows are listed whole).
func TestAttackImportSuspiciousCellsQuoteWholeHeaders(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	const cols, rows = 1000, 250
	path := writeBig(t, "suspicious.csv", func(w *bufio.Writer) {
		w.WriteString("Last Name,First Name,DOB")
		for i := range cols {
			fmt.Fprintf(w, ",c%d%s", i, strings.Repeat("h", 3000))
		}
		w.WriteString("\n")
		for i := range rows {
			fmt.Fprintf(w, "Family%d,Given%d,1980-01-02%s\n", i, i, strings.Repeat(",\ufffd", cols))
		}
	})
	st, _ := os.Stat(path)
	var plan *ImportPlan
	var err error
	_, live := peaksDuring(func() { plan, err = s.PlanImport(context.Background(), path) })
	if err != nil {
		t.Fatalf("preview: %v", err)
	}
	if live > attackHeapBudget {
		t.Fatalf("the preview of a %d MB CSV holds %d MB live (%d notes on its first row); want at most %d MB", st.Size()>>20, live>>20, len(plan.Rows[0].Suspicious), attackHeapBudget>>20)
	}
}

// TestAttackImportFHIROneHugeEntry: a bundle of one Patient entry with a
// 150 MB narrative is decoded whole, three times (counted as a
// json.RawMessage, then as a map on each of the two reads): well over
// 300 MB of heap.
func TestAttackImportFHIROneHugeEntry(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	const size = 150 << 20
	path := writeBig(t, "huge.json", func(w *bufio.Writer) {
		w.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","text":{"div":"`)
		chunk := strings.Repeat("n", 1<<20)
		for range size >> 20 {
			w.WriteString(chunk)
		}
		w.WriteString(`"},"name":[{"family":"Doe","given":["Jane"]}],"birthDate":"1980-01-02"}}]}`)
	})
	var err error
	peak := peakDuring(func() { _, err = s.PlanImport(context.Background(), path) })
	if peak > attackHeapBudget {
		t.Fatalf("previewing a bundle of one %d MB entry held %d MB of heap (%v); want at most %d MB, or the entry refused", size>>20, peak>>20, err, attackHeapBudget>>20)
	}
}

// TestAttackImportGrownFileOverrunsThePlan: a sheet previewed with 250
// rows is replaced, before the import, by one of 250,000. The import
// reads it to its end before it compares the digest, adding every row
// to the bulk: past the plan's count it writes rows nobody previewed
// into the open transaction, and the MRN Bloom filter, sized for the
// 250 rows previewed, fills up, until drawing an MRN loops (without
// looking at ctx) for seconds, then minutes, for each row. It must stop
// at the first row past the count.
func TestAttackImportGrownFileOverrunsThePlan(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	var b strings.Builder
	b.WriteString("Last Name,First Name,DOB\n")
	for i := range 250 {
		fmt.Fprintf(&b, "Family%d,Given%d,%d-01-02\n", i, i, 1930+i%90)
	}
	path := writeFile(t, "grows.csv", []byte(b.String()))
	plan, err := s.PlanImport(context.Background(), path)
	if err != nil || plan.Count.Import != 250 {
		t.Fatalf("plan: %v", err)
	}
	for i := 250; i < 250_000; i++ {
		fmt.Fprintf(&b, "Family%d,Given%d,%d-01-02\n", i, i, 1930+i%90)
	}
	replaceFile(t, path, []byte(b.String()))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	overrun := 0
	n, err := s.Import(ctx, plan, false, func(done, total int) {
		if done > total && overrun == 0 {
			overrun = done
			cancel() // seen enough: stop it before the filter fills
		}
	})
	if overrun > 0 {
		t.Fatalf("the import of a plan of %d rows went on to row %d of a grown file (%v)", plan.Count.Import, overrun, err)
	}
	if !errors.Is(err, ErrImportFileChanged) || n != 0 {
		t.Fatalf("a grown file: imported %d, %v; want ErrImportFileChanged", n, err)
	}
}

// fhirPatients is a bundle of n patients (urn:uuid:1…n) and the clinical
// entries given, one allergy to each substance for patient 1.
func fhirAllergyBundle(n int, substances ...string) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	for i := 1; i <= n; i++ {
		if i > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"fullUrl":"urn:uuid:%d","resource":{"resourceType":"Patient","name":[{"family":"Family%d","given":["Given%d"]}],"birthDate":"%d-01-02"}}`, i, i, i, 1930+i%90)
	}
	for _, sub := range substances {
		fmt.Fprintf(&b, `,{"resource":{"resourceType":"AllergyIntolerance","patient":{"reference":"urn:uuid:1"},"code":{"text":%q}}}`, sub)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

// TestAttackImportFHIRClinicalEntriesDroppedSilently: a bundle's
// clinical entries are read again after its patients are committed, each
// checked against what the first read saw; but a bundle cut short then
// (its last allergies removed, still a valid bundle) is not noticed: the
// import says it succeeded, the user is told to delete the file, and a
// penicillin allergy previewed was never written.
func TestAttackImportFHIRClinicalEntriesDroppedSilently(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	ctx := context.Background()
	path := writeFile(t, "allergies.json", fhirAllergyBundle(1000, "Latex", "Penicillin", "Peanuts"))
	plan, err := s.PlanImport(ctx, path)
	if err != nil || plan.ClinicalEntries() != 3 || plan.Count.Import != 1000 {
		t.Fatalf("plan: %v", err)
	}
	replaced := false
	n, err := s.Import(ctx, plan, false, func(done, total int) {
		if done == total && !replaced { // the patients are read: the file is replaced
			replaced = true
			replaceFile(t, path, fhirAllergyBundle(1000, "Latex"))
		}
	})
	if !replaced {
		t.Fatal("no progress at the last patient")
	}
	if err == nil {
		p, _ := s.SearchPatients(ctx, "Given1 Family1", 1)
		t.Fatalf("imported %d patients and reported success, with %d of the 3 clinical entries previewed written (%v)", n, countAllergies(t, s, p), err)
	}
	if errors.Is(err, ErrImportFileChanged) {
		t.Fatalf("the patients went in, but the error says nothing was imported: %v", err)
	}
}

// countAllergies is how many allergies the first patient found has.
func countAllergies(t *testing.T, s *Session, found []Patient) int {
	t.Helper()
	if len(found) == 0 {
		t.Fatal("patient not found")
	}
	as, err := s.allergiesOf(context.Background(), s.clinical, found[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return len(as)
}

// TestAttackImportFHIRSharedReferenceMisfilesAllergy: two Patient
// entries of a bundle known by the same fullUrl (Alice, then Bob) are
// both previewed to import, and an allergy referring to that fullUrl is
// previewed as a clinical entry without a word; the import files it in
// the chart of whichever came last. A reference two patients answer to
// must not choose one of them.
func TestAttackImportFHIRSharedReferenceMisfilesAllergy(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	ctx := context.Background()
	path := writeFile(t, "shared-ref.json", []byte(`{"resourceType":"Bundle","type":"collection","entry":[
{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","name":[{"family":"Smith","given":["Alice"]}],"birthDate":"1950-01-02"}},
{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","name":[{"family":"Jones","given":["Bob"]}],"birthDate":"1960-03-04"}},
{"resource":{"resourceType":"AllergyIntolerance","patient":{"reference":"urn:uuid:1"},"code":{"text":"Penicillin"}}}]}`))
	plan, err := s.PlanImport(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Import(ctx, plan, true, nil); err != nil {
		t.Fatalf("import: %v", err)
	}
	alice, _ := s.SearchPatients(ctx, "Alice Smith", 1)
	bob, _ := s.SearchPatients(ctx, "Bob Jones", 1)
	a, b := 0, 0
	if len(alice) > 0 {
		a = countAllergies(t, s, alice)
	}
	if len(bob) > 0 {
		b = countAllergies(t, s, bob)
	}
	if a+b > 0 {
		t.Fatalf("an allergy referring to a fullUrl two patients share was filed (Alice %d, Bob %d), the preview refusing %d entries: %+v", a, b, plan.Count.Refused, plan.Refused)
	}
}

// TestAttackImportNamedPipeHangs: the path given is a named pipe (an
// insider's "patients.csv" on a shared folder, or a symlink to one):
// the preview opens it and waits for a writer, forever, whatever its
// context says; with a writer that never stops (yes a,b,c > pipe) it
// reads forever. Only regular files are sheets.
func TestAttackImportNamedPipeHangs(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	for _, name := range []string{"pipe.csv", "pipe.json", "pipe.xlsx"} {
		path := filepath.Join(t.TempDir(), name)
		if err := exec.Command("mkfifo", path).Run(); err != nil {
			t.Skipf("no named pipes here: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		done := make(chan error, 1)
		go func() { _, err := s.PlanImport(ctx, path); done <- err }()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("%s: a named pipe previewed as a sheet", name)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s: previewing a named pipe still waited after 5 s (its context ended at 2 s)", name)
			// Unblock it: writers that close at once, for each time it
			// opens the pipe again.
			for unblocked := false; !unblocked; {
				if w, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
					w.Close()
				}
				select {
				case <-done:
					unblocked = true
				case <-time.After(10 * time.Millisecond):
				}
			}
		}
		cancel()
	}
}

// TestAttackImportFHIREntryCapBypassedByNesting: the 500,000-entry cap
// counts the bundle's "entry" list; one whose "entry" is an object was
// not counted, and the reader, having taken only the object's first
// token, went on to read the object's own keys as the bundle's: its
// "entry" list of 600,000 entries was previewed (each refused and kept
// in the skip set).
func TestAttackImportFHIREntryCapBypassedByNesting(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	path := writeBig(t, "nested.json", func(w *bufio.Writer) {
		w.WriteString(`{"resourceType":"Bundle","type":"collection","entry":{"entry":[{}`)
		for range maxImportEntries + 100_000 {
			w.WriteString(",{}")
		}
		w.WriteString("]}}")
	})
	plan, err := s.PlanImport(context.Background(), path)
	if err == nil {
		t.Fatalf("a bundle of %d entries hidden in an object was previewed: %+v", maxImportEntries+100_000, plan.Count)
	}
	if !errors.Is(err, ErrUnreadableSheet) {
		t.Fatalf("refused, but not as a file it cannot read: %v", err)
	}
}

// TestAttackImportFHIRTwoEntryListsShareNumbers: a bundle with two
// "entry" lists numbers each from 1: an invalid patient and a valid one
// are both entry 1 in the preview, the refused one's number is in the
// skip set, and the import skips the valid one too (then refuses the
// file as changed, which it is not).
func TestAttackImportFHIRTwoEntryListsShareNumbers(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	ctx := context.Background()
	path := writeFile(t, "two-lists.json", []byte(`{"resourceType":"Bundle","type":"collection",
"entry":[{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","name":[{"family":"Smith"}],"birthDate":"1950-01-02"}}],
"entry":[{"fullUrl":"urn:uuid:2","resource":{"resourceType":"Patient","name":[{"family":"Jones","given":["Bob"]}],"birthDate":"1960-03-04"}}]}`))
	plan, err := s.PlanImport(ctx, path)
	if err != nil {
		return // refused as a whole: fine
	}
	for _, r := range plan.Refused {
		for _, ok := range plan.Rows {
			if r.Row == ok.Row {
				t.Errorf("entry %d is both refused (%s) and imported (%s %s)", r.Row, r.Problem, ok.Patient.Given, ok.Patient.Family)
			}
		}
	}
	if n, err := s.Import(ctx, plan, true, nil); err != nil || n != plan.Count.Import {
		t.Fatalf("imported %d of %d previewed: %v", n, plan.Count.Import, err)
	}
}
