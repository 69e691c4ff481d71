package app

import (
	"context"
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestPatientsAddEditSearchAudit(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Rita Front", Receptionist, recPass)
	rita := f.mustSignIn("Rita Front", recPass)
	rita.dates = DayMonthYear

	jose, dups, err := rita.AddPatient(ctx, Patient{Given: "José", Family: "Núñez", DOB: "1980-03-02", Phone: "+44 20 7946 0001", Sex: "m"})
	if err != nil || len(dups) != 0 {
		t.Fatalf("add: %v %v", err, dups)
	}
	if !mrnPattern.MatchString(jose.MRN) || jose.Sex != "male" {
		t.Fatalf("patient %+v", jose)
	}
	rita.AddPatient(ctx, Patient{Given: "Joséphine", Family: "Baker", DOB: "1990-06-03"})
	rita.AddPatient(ctx, Patient{Given: "Li", Family: "Wěi", DOB: "2001-12-31", Phone: "07700 900123"})
	rita.AddPatient(ctx, Patient{Given: "Seán", Family: "O'Brien", DOB: "1975-01-15"})
	rita.AddPatient(ctx, Patient{Given: "Nunez", Family: "Smith", DOB: "1966-05-05"})
	rita.AddPatient(ctx, Patient{Given: "山田", Family: "太郎", DOB: "1985-07-07"})
	rita.AddPatient(ctx, Patient{Given: "Amara 🌻", Family: "Okafor", DOB: "1999-09-09"})

	find := func(q string) []string {
		t.Helper()
		ps, err := rita.SearchPatients(ctx, q, 10)
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		var out []string
		for _, p := range ps {
			out = append(out, p.Given+" "+p.Family)
		}
		return out
	}
	for q, want := range map[string]string{
		"jose":        "José Núñez",
		"nunez":       "José Núñez",
		"NÚÑ":         "José Núñez",
		"jose nunez":  "José Núñez",
		"1980-03-02":  "José Núñez",
		"2/3/1980":    "José Núñez",
		"02.03.1980":  "José Núñez",
		"7946":        "José Núñez",
		jose.MRN:      "José Núñez",
		"o'brien":     "Seán O'Brien",
		"wei":         "Li Wěi",
		"07700900123": "Li Wěi",
		"okafor":      "Amara 🌻 Okafor",
	} {
		got := find(q)
		if len(got) == 0 || got[0] != want {
			t.Errorf("search %q: got %v, want %q first", q, got, want)
		}
	}
	// Best match first: "nunez" is José's family name but Smith's given name.
	if got := find("nunez"); len(got) != 2 || got[0] != "José Núñez" {
		t.Errorf("ranking: %v", got)
	}
	// Query syntax cannot be injected.
	for _, q := range []string{`"`, `*`, `names:x OR`, `NEAR/2`, `-`, `()`} {
		if _, err := rita.SearchPatients(ctx, q, 10); err != nil {
			t.Errorf("search %q: %v", q, err)
		}
	}

	// Duplicates warn.
	_, dups, err = rita.AddPatient(ctx, Patient{Given: "jose", Family: "núñez", DOB: "1980-03-02"})
	if err != nil || len(dups) != 1 || dups[0].Reason != "same name and date of birth" {
		t.Fatalf("duplicate by name: %v %+v", err, dups)
	}
	_, dups, _ = rita.AddPatient(ctx, Patient{Given: "Other", Family: "Person", DOB: "1970-01-01", Phone: "+44 20 7946 0001"})
	if len(dups) != 1 || dups[0].Reason != "same phone" {
		t.Fatalf("duplicate by phone: %+v", dups)
	}

	// Edit changes only the fields given, with change records per field.
	edited, err := rita.EditPatient(ctx, strings.ToLower(jose.MRN), PatientChanges{Phone: Str("+44 20 7946 0999")})
	if err != nil || edited.Phone != "+44 20 7946 0999" || edited.Given != "José" {
		t.Fatalf("edit: %v %+v", err, edited)
	}
	hist, err := rita.History(ctx, "patients", jose.ID)
	if err != nil {
		t.Fatal(err)
	}
	var phoneChanges int
	for _, c := range hist {
		if c.Column == "phone" {
			phoneChanges++
			if c.Author == "" || c.Device == "" || c.HLC.Wall == 0 {
				t.Fatalf("change record %+v", c)
			}
		}
	}
	if phoneChanges != 2 {
		t.Fatalf("phone change records: %d", phoneChanges)
	}
	if got := find("7946 0999"); len(got) == 0 {
		t.Fatal("search index not updated after edit")
	}

	// Bad input: a clear message, nothing written.
	for name, p := range map[string]Patient{
		"future dob":  {Given: "A", Family: "B", DOB: f.clk.Now().AddDate(0, 0, 2).Format("2006-01-02")},
		"not a date":  {Given: "A", Family: "B", DOB: "31/02/1990"},
		"empty given": {Given: "  ", Family: "B", DOB: "1990-01-01"},
		"bad email":   {Given: "A", Family: "B", DOB: "1990-01-01", Email: "nope"},
		"huge note":   {Given: "A", Family: "B", DOB: "1990-01-01", AdminNotes: strings.Repeat("x", 10<<20)},
		"bad sex":     {Given: "A", Family: "B", DOB: "1990-01-01", Sex: "q"},
	} {
		if _, _, err := rita.AddPatient(ctx, p); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", name, err)
		}
	}
	if _, err := rita.EditPatient(ctx, "ZZZZ-ZZZZ", PatientChanges{}); !errors.Is(err, ErrPatientNotFound) {
		t.Fatalf("unknown MRN: %v", err)
	}

	// Viewing is audited.
	if _, err := rita.GetPatient(ctx, jose.MRN); err != nil {
		t.Fatal(err)
	}
	entries, _ := admin.AuditList(ctx, 0)
	seen := map[string]int{}
	for _, e := range entries {
		seen[e.Action]++
	}
	if seen["chart-viewed"] != 1 || seen["patient-created"] != 9 || seen["patient-updated"] != 1 {
		t.Fatalf("audit: %v", seen)
	}
}

func TestMergePatients(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	a, _, _ := s.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	b, _, _ := s.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01", Phone: "555 0100"})
	if err := s.SetBookable(ctx, "Maria Admin", true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.BookAppointment(ctx, b.MRN, f.clk.Now().Add(24*time.Hour), 15, "Maria Admin", "check-up"); err != nil {
		t.Fatal(err)
	}
	if err := s.MergePatients(ctx, a.MRN, a.MRN); !errors.Is(err, ErrInvalid) {
		t.Fatalf("self-merge: %v", err)
	}
	if err := s.MergePatients(ctx, a.MRN, b.MRN); err != nil {
		t.Fatal(err)
	}
	got, _ := s.SearchPatients(ctx, "silva", 10)
	if len(got) != 1 || got[0].MRN != a.MRN {
		t.Fatalf("after merge: %+v", got)
	}
	old, err := s.GetPatient(ctx, b.MRN)
	if err != nil || !old.Archived || old.MergedInto != a.ID {
		t.Fatalf("merged record: %+v %v", old, err)
	}
	day, _ := s.Day(ctx, f.clk.Now().Add(24*time.Hour))
	if len(day) != 1 || day[0].PatientMRN != a.MRN {
		t.Fatalf("appointment not moved: %+v", day)
	}
}

func TestParseTypedDate(t *testing.T) {
	for _, c := range []struct {
		in    string
		order DateOrder
		want  string
		ok    bool
	}{
		{"1980-03-02", DayMonthYear, "1980-03-02", true},
		{"2/3/1980", DayMonthYear, "1980-03-02", true},
		{"2/3/1980", MonthDayYear, "1980-02-03", true},
		{"02.03.1980", DayMonthYear, "1980-03-02", true},
		{"31/2/1980", DayMonthYear, "", false},
		{"13/13/1980", DayMonthYear, "", false},
		{"Smith", DayMonthYear, "", false},
	} {
		got, ok := ParseTypedDate(c.in, c.order)
		if got != c.want || ok != c.ok {
			t.Errorf("%q %s: got %q %v", c.in, c.order, got, ok)
		}
	}
}

// TestPhoneAndEmailChecksMatchTheirRegexps: the hand-written checks
// accept exactly what the regular expressions they replace accepted.
func TestPhoneAndEmailChecksMatchTheirRegexps(t *testing.T) {
	phoneRe := regexp.MustCompile(`^\+?[0-9 ()./-]{3,30}$`)
	emailRe := regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	inputs := []string{"", "+", "+1", "12", "123", "+123", "++123", "+44 20 7946 0001", "(020) 7946-0001", "07700.900/123",
		"1234567890123456789012345678901", "+123456789012345678901234567890", "12a", "１２３", "12\n3",
		"a@b.c", "@b.c", "a@.c", "a@b.", "a@bc", "a@b@c.d", "a b@c.d", "a@b.c\t", "a\v@b.c", "ana.o'brien@clinic.example.org",
		"a@b..c", "a@.b.c", "ü@ß.de", "a@b.c.", "x@y.z\n"}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "+0123456789 ()./-@.ab\t\n\v\f\rü"
	for i := 0; i < 20000; i++ {
		n := r.IntN(36)
		var b []rune
		for j := 0; j < n; j++ {
			b = append(b, []rune(alphabet)[r.IntN(len([]rune(alphabet)))])
		}
		inputs = append(inputs, string(b))
	}
	for _, in := range inputs {
		if got, want := looksLikePhone(in), phoneRe.MatchString(in); got != want {
			t.Errorf("looksLikePhone(%q) = %v, regexp says %v", in, got, want)
		}
		if got, want := looksLikeEmail(in), emailRe.MatchString(in); got != want {
			t.Errorf("looksLikeEmail(%q) = %v, regexp says %v", in, got, want)
		}
	}
}

// TestSearchFindsEveryName: names typed without their marks or special
// letters find the patient (stacked Vietnamese marks, ø, ł, đ, æ, ß), and
// a national phone number finds the international one; an index built by
// an earlier version is rebuilt at the next sign-in.
func TestSearchFindsEveryName(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.mustSignIn("Maria Admin", adminPass)
	for _, p := range []Patient{
		{Given: "Văn", Family: "Nguyễn", DOB: "1980-01-01"},
		{Given: "Thị", Family: "Trần", DOB: "1981-01-01"},
		{Given: "Søren", Family: "Østergaard", DOB: "1982-01-01"},
		{Given: "Małgorzata", Family: "Wiśniewska", DOB: "1983-01-01"},
		{Given: "Minh", Family: "Đặng", DOB: "1984-01-01"},
		{Given: "Ægir", Family: "Þórsson", DOB: "1985-01-01"},
		{Given: "Jörg", Family: "Straße", DOB: "1986-01-01", Phone: "+44 20 6976 6221"},
	} {
		if _, _, err := s.AddPatient(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		for q, want := range map[string]string{
			"nguyen": "Nguyễn", "tran": "Trần", "ostergaard": "Østergaard", "soren": "Østergaard",
			"malgorzata": "Wiśniewska", "wisniewska": "Wiśniewska", "dang": "Đặng", "aegir": "Þórsson",
			"thorsson": "Þórsson", "strasse": "Straße", "Østergaard": "Østergaard", "Nguyễn": "Nguyễn",
			"020 6976 6221": "Straße", "02069766221": "Straße",
		} {
			got, err := s.SearchPatients(ctx, q, 10)
			if err != nil || len(got) != 1 || got[0].Family != want {
				t.Errorf("%s: %q finds %v (%v), want %s", when, q, got, err, want)
			}
		}
	}
	check("new index")
	// An index as an earlier version built it: rebuilt at sign-in.
	s.general.Exec(`UPDATE patients_fts SET names = (SELECT given || ' ' || family FROM patients WHERE rowid = patients_fts.docid)`)
	s.general.Exec(`DELETE FROM settings WHERE name = 'search_index'`)
	s.Lock(ctx)
	s = f.mustSignIn("Maria Admin", adminPass)
	check("after the upgrade")
}
