package app

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The search index (patients_fts, docid = patients.rowid) holds four
// columns of terms: names, numbers (the MRN, the national number), phones
// and the date of birth. patientTable says which field goes into which
// column and how its terms are made (indexedAs).

// ftsColumn is a column of patients_fts.
type ftsColumn int

const (
	ftsNames ftsColumn = iota
	ftsMRN
	ftsPhone
	ftsDOB
	ftsColumns
)

// indexedAs is how a field is searched: its terms in a column of the
// index ("" when it has none).
type indexedAs struct {
	col   ftsColumn
	terms func(string) string
}

// nameTerms: names folded as a typed word is (searchFold).
func nameTerms(v string) string { return searchFold(v) }

// mrnTerms: the MRN without its dash, one token: a typed "K7QM-" or "K7QM"
// is a prefix of it. (Rows indexed before also hold the two halves.)
func mrnTerms(v string) string { return strings.ReplaceAll(v, "-", "") }

// numberTerms: a national health number as one token ("943 476 5919" as
// 9434765919, "QQ 12 34 56 C" as QQ123456C) and as its groups of three
// characters or more, as typed.
func numberTerms(v string) string {
	groups := strings.FieldsFunc(v, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	terms := strings.Join(groups, "")
	if len(groups) > 1 {
		for _, g := range groups {
			if utf8.RuneCountInString(g) >= 3 {
				terms += " " + g
			}
		}
	}
	return terms
}

// phoneTerms: a phone as digits (07700900123), and the typed groups of
// three digits or more, so the "7946" of "+44 20 7946 0001" matches too
// (country and area codes of one or two digits would match half the
// practice).
func phoneTerms(ph string) string {
	d := digits(ph)
	if d == "" {
		return ""
	}
	tokens := []string{d}
	// An international number is also found as it is dialled at home:
	// "+44 20 6976 6221" as "020 6976 6221".
	if national := nationalNumber(ph); national != "" {
		tokens = append(tokens, national)
	}
	for _, g := range strings.FieldsFunc(ph, func(r rune) bool { return r < '0' || r > '9' }) {
		if len(g) >= 3 && g != d {
			tokens = append(tokens, g)
		}
	}
	return strings.Join(tokens, " ")
}

// dobTerms: the date of birth as one token, 19800302: a prefix query on
// the year (1980*) or the whole date matches it.
func dobTerms(v string) string { return strings.ReplaceAll(v, "-", "") }

// ftsRow is the text the full-text index holds for a patient: the terms
// of its searched fields, column by column in patientTable's order.
func ftsRow(p Patient) (names, mrn, phone, dob string) {
	var cols [ftsColumns]string
	for i := range patientTable {
		f := &patientTable[i]
		if f.index == nil {
			continue
		}
		if t := f.index.terms(*f.textOf(&p)); t != "" {
			if cols[f.index.col] != "" {
				cols[f.index.col] += " "
			}
			cols[f.index.col] += t
		}
	}
	return cols[ftsNames], cols[ftsMRN], cols[ftsPhone], cols[ftsDOB]
}

// indexPatient replaces a patient's entry in the full-text index.
func indexPatient(ctx context.Context, tx querier, p Patient) error {
	rowid, err := scalar[int64](ctx, tx, `SELECT rowid FROM patients WHERE id = ?`, p.ID)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM patients_fts WHERE docid = ?`, rowid); err != nil {
		return err
	}
	if p.Archived {
		return nil
	}
	return insertFTS(ctx, tx, rowid, p)
}

// insertFTS adds a new patient to the full-text index. New rows must not
// go through a DELETE first: an FTS4 delete flushes the pending terms, and
// a segment per row makes a bulk insert quadratic.
func insertFTS(ctx context.Context, tx querier, rowid int64, p Patient) error {
	names, mrn, phone, dob := ftsRow(p)
	_, err := tx.ExecContext(ctx, `INSERT INTO patients_fts (docid, names, mrn, phone, dob) VALUES (?, ?, ?, ?, ?)`, rowid, names, mrn, phone, dob)
	return err
}

// indexedPatient is a patient with the rowid its index entry is filed
// under.
type indexedPatient struct {
	rowid int64
	p     Patient
}

// scanIndexed reads rowid, then the columns of patientColumns.
func scanIndexed(r row) (indexedPatient, error) {
	var e indexedPatient
	p, err := scanPatient(withLeading{r, &e.rowid})
	e.p = p
	return e, err
}

// withLeading scans a row whose first column goes to lead and the rest to
// what the caller's Scan asks for.
type withLeading struct {
	row  row
	lead any
}

func (w withLeading) Scan(dest ...any) error {
	return w.row.Scan(append([]any{w.lead}, dest...)...)
}

func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// trunkZero are the calling codes whose countries dial a national number
// with a leading 0 (ITU-T E.164 assignments; national dialling plans).
var trunkZero = map[string]bool{
	"44": true, "33": true, "49": true, "31": true, "32": true, "41": true, "43": true, "46": true,
	"353": true, "61": true, "64": true, "27": true, "91": true, "81": true, "82": true, "86": true,
	"90": true, "30": false, "39": false, "34": false, "351": false, "1": false, "47": false, "45": false,
	"48": false, "358": true, "36": false, "420": false, "62": true, "63": true, "66": true, "60": true,
	"234": true, "254": true, "20": true, "92": true, "880": true, "84": true, "972": true, "971": true,
}

// nationalNumber is an international number ("+44 20 6976 6221") as it is
// dialled in its country ("02069766221"), or "" when that is not known.
func nationalNumber(phone string) string {
	ph := strings.TrimSpace(phone)
	if strings.HasPrefix(ph, "00") {
		ph = "+" + ph[2:]
	}
	if !strings.HasPrefix(ph, "+") {
		return ""
	}
	d := digits(ph)
	for n := 3; n >= 1; n-- {
		if len(d) > n+4 {
			if zero, known := trunkZero[d[:n]]; known {
				if zero {
					return "0" + d[n:]
				}
				return d[n:]
			}
		}
	}
	return ""
}
