package app

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"

	cvsync "github.com/clinicvault/clinicvault/sync"
)

// TestApplyLastWriterWinsPerColumn: a change record carries several
// columns of a row, but last-writer-wins is per column. A newer record
// that set one column keeps it against an older record of several
// columns arriving later, the older record's other columns still apply,
// and the losing value stays in the history.
func TestApplyLastWriterWinsPerColumn(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.mustSignIn("Maria Admin", adminPass)
	dev := "0190a1b2-0000-7000-8000-0000000000d1"
	id := newID()
	author := a.user.ID
	at := func(wall uint64) string { return cvsync.Timestamp{Wall: wall, Device: dev}.String() }
	str := func(s string) *string { return &s }
	base := uint64(a.v.now().UnixMilli()) - 60_000
	older := cvsync.Record{HLC: at(base), Table: "patients", RowID: id, Device: dev, Author: author,
		Columns: map[string]*string{"mrn": str("ABCD-EFGH"), "given": str("Ana"), "family": str("Older"), "dob": str("1980-01-02"), "phone": str("+1 555 0100")}}
	newer := cvsync.Record{HLC: at(base + 1000), Table: "patients", RowID: id, Device: dev, Author: author,
		Columns: map[string]*string{"family": str("Newer")}}

	apply := func(recs ...cvsync.Record) {
		t.Helper()
		if _, err := a.applyBatch(ctx, &cvsync.Batch{Header: cvsync.Header{Class: cvsync.General, Device: dev}, Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
	apply(newer) // the newer edit arrives first: the row is made with defaults
	apply(older)
	p, err := a.GetPatient(ctx, "ABCD-EFGH")
	if err != nil {
		t.Fatal(err)
	}
	if p.Given != "Ana" || p.Family != "Newer" || p.DOB != "1980-01-02" {
		t.Fatalf("merged row: %+v", p)
	}
	var key string
	a.general.QueryRow(`SELECT phone_key FROM patients WHERE id = ?`, id).Scan(&key)
	if key != "15550100" {
		t.Fatalf("phone key %q", key)
	}
	if hits, _ := a.SearchPatients(ctx, "newer", 10); len(hits) != 1 {
		t.Fatalf("search after apply: %+v", hits)
	}
	hist, err := a.History(ctx, "patients", id)
	if err != nil {
		t.Fatal(err)
	}
	var families []string
	for _, c := range hist {
		if c.Column == "family" {
			families = append(families, *c.Value)
		}
	}
	if len(hist) != 6 || len(families) != 2 || families[0] != "Older" || families[1] != "Newer" {
		t.Fatalf("history: %d fields, families %v", len(hist), families)
	}

	// The same records again change nothing.
	var before int
	a.general.QueryRow(`SELECT count(*) FROM changes`).Scan(&before)
	apply(older, newer)
	var after int
	a.general.QueryRow(`SELECT count(*) FROM changes`).Scan(&after)
	if p2, _ := a.GetPatient(ctx, "ABCD-EFGH"); after != before || p2.Family != "Newer" || p2.Given != "Ana" {
		t.Fatalf("re-applied: %d → %d records, %+v", before, after, p2)
	}

	// A column the table does not have is refused, and nothing applies.
	bad := cvsync.Record{HLC: at(base + 2000), Table: "patients", RowID: id, Device: dev, Author: author,
		Columns: map[string]*string{"given": str("Eve"), "no_such": str("x")}}
	if _, err := a.applyBatch(ctx, &cvsync.Batch{Header: cvsync.Header{Class: cvsync.General, Device: dev}, Records: []cvsync.Record{bad}}); err == nil {
		t.Fatal("unknown column applied")
	}
	if p3, _ := a.GetPatient(ctx, "ABCD-EFGH"); p3.Given != "Ana" {
		t.Fatalf("half-applied: %+v", p3)
	}
}

// TestChangeColumnsRoundTrip: the change log's two record layouts (one
// column as itself; several as a JSON object under "*") decode to what
// was written, NULLs included.
func TestChangeColumnsRoundTrip(t *testing.T) {
	v := "Núñez \"quoted\"\n"
	for _, cols := range []map[string]*string{
		{"family": &v},
		{"phone": nil},
		{"family": &v, "phone": nil, "dob": &v},
	} {
		col, val, err := encodeColumns(cols)
		if err != nil {
			t.Fatal(err)
		}
		if (len(cols) == 1) == (col == severalColumns) {
			t.Fatalf("layout for %d columns: col %q", len(cols), col)
		}
		var ns = nullString(val)
		got, err := decodeColumns(col, ns)
		if err != nil || len(got) != len(cols) {
			t.Fatalf("%v %v", got, err)
		}
		for c, w := range cols {
			g, ok := got[c]
			if !ok || (g == nil) != (w == nil) || (g != nil && *g != *w) {
				t.Fatalf("column %s: %v, want %v", c, g, w)
			}
		}
	}
	if _, err := decodeColumns(severalColumns, nullString(nil)); err == nil {
		t.Fatal("a record of several columns without its JSON decoded")
	}
}

func nullString(v *string) sql.NullString {
	if v == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: *v, Valid: true}
}

// TestEncodeColumnsIsJSON: the hand-written encoder gives what
// encoding/json reads back exactly, for awkward text too.
func TestEncodeColumnsIsJSON(t *testing.T) {
	vals := []string{"", "plain", "quote \" and \\ backslash", "line\nbreak\r\ttab", "ctl \x00\x01\x1f\x7f", "emoji 😀 CJK 王小明 Núñez",
		"bad utf8 \xff\xfe end", "<script>&amp;</script>", "\u2028\u2029"}
	for _, v := range vals {
		v := v
		cols := map[string]*string{"a": &v, "b": nil, "zeta": &v}
		col, enc, err := encodeColumns(cols)
		if err != nil || col != severalColumns {
			t.Fatal(col, err)
		}
		var got map[string]*string
		if err := json.Unmarshal([]byte(*enc), &got); err != nil {
			t.Fatalf("%q: %v", *enc, err)
		}
		var want string // what encoding/json makes of it
		ref, _ := json.Marshal(v)
		json.Unmarshal(ref, &want)
		if got["a"] == nil || *got["a"] != want || got["b"] != nil || *got["zeta"] != want || len(got) != 3 {
			t.Fatalf("%q → %q → %v", v, *enc, got)
		}
	}
}

// TestInsertChangesSharedAndMixed: records written with their shared
// table, column, device and author bound once, and records that differ,
// are stored alike.
func TestInsertChangesSharedAndMixed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.mustSignIn("Maria Admin", adminPass)
	v1, v2 := "one", "two"
	uniform := []any{
		"h-0001", "patients", "r1", "*", &v1, "dev", "ann",
		"h-0002", "patients", "r2", "*", nil, "dev", "ann",
	}
	mixed := []any{
		"h-0003", "patients", "r3", "given", &v2, "dev", "ann",
		"h-0004", "appointments", "r4", "status", "done", "dev2", "bob",
	}
	if !sameChangeContext(uniform) || sameChangeContext(mixed) {
		t.Fatal("sameChangeContext misjudges the test records")
	}
	err := a.write(ctx, func(tx *sql.Tx) error {
		if err := insertChanges(ctx, tx, uniform); err != nil {
			return err
		}
		return insertChanges(ctx, tx, mixed)
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"h-0001": "patients r1 * one dev ann",
		"h-0002": "patients r2 * <nil> dev ann",
		"h-0003": "patients r3 given two dev ann",
		"h-0004": "appointments r4 status done dev2 bob",
	}
	rows, err := a.general.Query(`SELECT hlc, tbl, row_id, col, coalesce(value, '<nil>'), device, author FROM changes WHERE hlc LIKE 'h-%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var h, tbl, row, col, val, dev, auth string
		rows.Scan(&h, &tbl, &row, &col, &val, &dev, &auth)
		if got := tbl + " " + row + " " + col + " " + val + " " + dev + " " + auth; got != want[h] {
			t.Errorf("%s: %q, want %q", h, got, want[h])
		}
		n++
	}
	if n != len(want) {
		t.Fatalf("%d records stored, want %d", n, len(want))
	}
}
