package app

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	xunicode "golang.org/x/text/encoding/unicode"
)

const encodingSheet = "Last Name,First Name,Date of Birth\r\nMüller,Jürgen,1970-01-02\r\nO’Brien,Zoë,1981-03-04\r\n"

// TestImportReadsUTF16AndWindows1252: a UTF-16 sheet (Excel's "Unicode
// text", with or without its byte-order mark) was refused with a header
// shown as "ÿþLast Name"; now it is read, as is Windows-1252, and the
// plan says how the text was read.
func TestImportReadsUTF16AndWindows1252(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	le, _ := xunicode.UTF16(xunicode.LittleEndian, xunicode.UseBOM).NewEncoder().Bytes([]byte(encodingSheet))
	beNoBOM, _ := xunicode.UTF16(xunicode.BigEndian, xunicode.IgnoreBOM).NewEncoder().Bytes([]byte(encodingSheet))
	leNoBOM, _ := xunicode.UTF16(xunicode.LittleEndian, xunicode.IgnoreBOM).NewEncoder().Bytes([]byte(encodingSheet))
	cp, err := charmap.Windows1252.NewEncoder().Bytes([]byte(encodingSheet))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(le), "\xff\xfeL\x00") || !strings.Contains(string(cp), "M\xfcller") {
		t.Fatalf("fixtures: % x / % x", le[:4], cp[:20])
	}
	for _, c := range []struct {
		name string
		raw  []byte
		want TextEncoding
	}{
		{"utf-16le-bom", le, EncodingUTF16LE},
		{"utf-16be", beNoBOM, EncodingUTF16BE},
		{"utf-16le", leNoBOM, EncodingUTF16LE},
		{"windows-1252", cp, EncodingWindows1252},
		{"utf-8-bom", append([]byte("\xef\xbb\xbf"), encodingSheet...), EncodingUTF8},
	} {
		plan, err := s.PlanImport(ctx, writeFile(t, c.name+".csv", c.raw))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if plan.Encoding != c.want || len(plan.Rows) != 2 || plan.Rows[0].Patient.Family != "Müller" ||
			plan.Rows[0].Patient.Given != "Jürgen" || plan.Rows[1].Patient.Family != "O’Brien" || plan.Rows[1].Patient.Given != "Zoë" {
			t.Fatalf("%s: read as %s: rows %+v refused %+v", c.name, plan.Encoding, plan.Rows, plan.Refused)
		}
		for _, r := range plan.Rows {
			if len(r.Suspicious) > 0 {
				t.Fatalf("%s: row %d flagged: %v", c.name, r.Row, r.Suspicious)
			}
		}
	}
	plan, _ := s.PlanImport(ctx, writeFile(t, "le.csv", le))
	if n, err := s.Import(ctx, plan, false, nil); err != nil || n != 2 {
		t.Fatalf("import: %d %v", n, err)
	}
	if ps, err := s.SearchPatients(ctx, "Müller", 10); err != nil || len(ps) != 1 || ps[0].Given != "Jürgen" {
		t.Fatalf("stored: %+v %v", ps, err)
	}
}

// TestImportRefusesTextInNoKnownEncoding: a Shift-JIS sheet was stored as
// "ŽR“c, ‘¾˜Y", and invalid UTF-8 as "QwzÃ(bad", without a word. Bytes
// that are no encoding ClinicVault reads are refused, saying the line,
// the bytes and (when it can tell) what the file looks like.
func TestImportRefusesTextInNoKnownEncoding(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	sjis := func(text string) []byte {
		b, err := japanese.ShiftJIS.NewEncoder().Bytes([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, c := range []struct {
		name   string
		raw    []byte
		line   int
		likely string
	}{
		{"invalid-utf8", []byte("Last Name,First Name,Date of Birth\nQwz\xc3(bad,Ann,1970-01-02\n"), 2, ""},
		{"shift-jis", sjis("Last Name,First Name,Date of Birth\n山田,太郎,1970-01-02\n"), 2, "Japanese Shift-JIS"},
		{"shift-jis-2", sjis("Last Name,First Name,Date of Birth\nSato,Ann,1970-01-02\n鈴木,花子,1971-05-06\n"), 3, "Japanese Shift-JIS"},
		{"damaged-utf8", []byte("Last Name,First Name,Date of Birth\nMüller,Jürgen,1970-01-02\nM\xfcller,J\xfcrgen,1970-01-02\n"), 3, "UTF-8 with damaged bytes"},
		{"utf8-bom-damaged", []byte("\xef\xbb\xbfLast Name,First Name,Date of Birth\nM\xfcller,Ann,1970-01-02\n"), 2, "UTF-8 with damaged bytes"},
		{"binary", []byte("Last Name,First Name,Date of Birth\nAnn\x00\x01\x02,Bo,1970-01-02\n"), 2, "a binary file, not a sheet"},
	} {
		plan, err := s.PlanImport(ctx, writeFile(t, c.name+".csv", c.raw))
		var ee *EncodingError
		if !errors.As(err, &ee) || !errors.Is(err, ErrTextEncoding) || !errors.Is(err, ErrUnreadableSheet) {
			t.Fatalf("%s: not refused: %v (plan %+v)", c.name, err, plan)
		}
		if ee.Line != c.line || ee.Likely != c.likely || !strings.Contains(err.Error(), "CSV UTF-8") {
			t.Fatalf("%s: %+v: %v", c.name, ee, err)
		}
	}
}

// TestImportPreviewShowsSuspiciousCharacters: text that is valid but
// holds characters that were probably not typed (U+FFFD from an earlier
// conversion, C1 controls, UTF-8 read as Windows-1252) is named in the
// preview by row and column.
func TestImportPreviewShowsSuspiciousCharacters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	sheet := "Last Name,First Name,Date of Birth\n" +
		"M\uFFFDller,Ann,1970-01-02\n" +
		"Smith,Bo\u0085b,1971-01-02\n" +
		"MÃ¼ller,Cleo,1972-01-02\n" +
		"Núñez,José,1973-01-02\n"
	plan, err := s.PlanImport(ctx, writeFile(t, "s.csv", []byte(sheet)))
	if err != nil {
		t.Fatal(err)
	}
	flagged := map[int]string{}
	for _, r := range append(plan.Rows, plan.Refused...) {
		if len(r.Suspicious) > 0 {
			flagged[r.Row] = strings.Join(r.Suspicious, "; ")
		}
	}
	if len(flagged) != 3 || !strings.Contains(flagged[2], "U+FFFD") || !strings.Contains(flagged[2], `column "Last Name"`) ||
		!strings.Contains(flagged[3], "U+0085") || !strings.Contains(flagged[3], `column "First Name"`) ||
		!strings.Contains(flagged[4], "Windows-1252") {
		t.Fatalf("flagged: %v", flagged)
	}
}

func TestSuspiciousTextOfInvalidUTF8DoesNotPanic(t *testing.T) {
	for _, c := range []string{"\xff", "a\xc3", "\xc3\xbc\xc3", "M\xc3\xbcller", "ok"} {
		suspiciousText(c)
	}
	if got := suspiciousText("MÃ¼ller\x01"); !strings.Contains(got, "U+00C3") || !strings.Contains(got, "U+0001") {
		t.Fatalf("%q", got)
	}
}
