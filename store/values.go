package store

import "strings"

// Values is the VALUES list of a multi-row INSERT of n rows. row is one
// row's template, such as "(?1, ?, ?, 0)": a bare ? is a parameter of each
// row's own, ?1 … ?9 are parameters every row shares, and anything else is
// copied as it is. The shared parameters must come before any bare ? in
// the template: SQLite numbers a bare ? one above the highest number seen
// so far, so the shared ones are 1 … k and row i's own follow from k+1.
// The arguments are therefore the k shared values, then each row's values
// in order. Bulk inserts bind the constants of a chunk (its time, its
// author) once instead of in every row: each bound value is a call into
// SQLite and a copy of the text.
//
// (Numbering every parameter explicitly would be simpler to read, but
// SQLite 3.33 looks each ?NNN up in a linear list when it compiles the
// statement: for 16,000 of them that took longer than running it.)
func Values(row string, n int) string {
	bare := false
	for i := 0; i < len(row); i++ {
		if row[i] != '?' {
			continue
		}
		if i+1 < len(row) && row[i+1] >= '1' && row[i+1] <= '9' {
			if bare {
				panic("store.Values: a shared parameter after a bare ? in " + row)
			}
			i++
		} else {
			bare = true
		}
	}
	if n <= 0 {
		return ""
	}
	var b strings.Builder
	b.Grow(n * (len(row) + 2))
	b.WriteString(row)
	for r := 1; r < n; r++ {
		b.WriteString(", ")
		b.WriteString(row)
	}
	return b.String()
}
