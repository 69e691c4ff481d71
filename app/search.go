package app

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// searchCandidates bounds how many full-text matches are ranked; a one-
// letter query on a large practice matches thousands, and the first page
// only needs the best of a few hundred.
const searchCandidates = 500

var (
	isoDate   = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})$`)
	slashDate = regexp.MustCompile(`^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$`)
	mrnToken  = regexp.MustCompile(`^[0-9A-Za-z]{4}-[0-9A-Za-z]{1,4}$`)
)

// ParseTypedDate reads a date as a receptionist types it: 1980-03-02, or
// 2/3/1980 and 02.03.1980 in the practice's date order. It returns
// YYYY-MM-DD and whether it was a date.
func ParseTypedDate(s string, order DateOrder) (string, bool) {
	var y, m, d int
	if g := isoDate.FindStringSubmatch(s); g != nil {
		y, _ = strconv.Atoi(g[1])
		m, _ = strconv.Atoi(g[2])
		d, _ = strconv.Atoi(g[3])
	} else if g := slashDate.FindStringSubmatch(s); g != nil {
		a, _ := strconv.Atoi(g[1])
		b, _ := strconv.Atoi(g[2])
		y, _ = strconv.Atoi(g[3])
		d, m = a, b
		if order == MonthDayYear {
			d, m = b, a
		}
	} else {
		return "", false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d {
		return "", false
	}
	return t.Format("2006-01-02"), true
}

// searchLetters are letters that are not a base letter plus marks, and
// what a receptionist types for them.
var searchLetters = strings.NewReplacer(
	"ø", "o", "ł", "l", "đ", "d", "ð", "d", "æ", "ae", "œ", "oe", "ß", "ss", "þ", "th",
	"ı", "i", "ħ", "h", "ŧ", "t", "ŋ", "n", "ſ", "s", "ĸ", "k",
)

// searchFold is what the search index holds of a name and what a typed
// word is compared as: lowercase, every mark stripped (Vietnamese vowels
// carry two), and the letters of searchLetters spelt out: "Nguyễn" ->
// "nguyen", "Østergaard" -> "ostergaard", "Małgorzata" -> "malgorzata".
func searchFold(s string) string {
	return searchLetters.Replace(foldAccents(s))
}

// fold lowercases and strips diacritics: "Núñez" -> "nunez".
func foldAccents(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii { // nothing to decompose: most names, every bulk import's majority
		return strings.ToLower(s)
	}
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// ftsTerm quotes a token for an FTS4 query: only letters and digits
// survive, so no query syntax can be injected.
func ftsTerm(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, s)
}

// buildQuery turns what was typed into an FTS4 MATCH expression: every
// word must match (as a prefix) a name, the MRN, the phone, or the date of
// birth.
func buildQuery(q string, order DateOrder) string {
	var parts []string
	for _, tok := range strings.FieldsFunc(q, func(r rune) bool { return unicode.IsSpace(r) || r == ',' || r == ';' }) {
		if dob, ok := ParseTypedDate(tok, order); ok {
			parts = append(parts, "dob:"+strings.ReplaceAll(dob, "-", ""))
			continue
		}
		if mrnToken.MatchString(tok) {
			parts = append(parts, fmt.Sprintf(`mrn:%s*`, ftsTerm(strings.ToUpper(tok))))
			continue
		}
		if d := digits(tok); d != "" && len(d) == len(ftsTerm(tok)) {
			parts = append(parts, fmt.Sprintf(`(phone:%s* OR mrn:%s* OR dob:%s*)`, d, d, d))
			continue
		}
		// Words with inner punctuation (O'Brien, Smith-Jones) are several
		// tokens to the index: each must match.
		for _, w := range strings.FieldsFunc(searchFold(tok), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			parts = append(parts, fmt.Sprintf(`(names:%s* OR mrn:%s*)`, ftsTerm(w), ftsTerm(w)))
		}
	}
	return strings.Join(parts, " ")
}

// SearchPatients finds current patients by name, MRN, phone or date of
// birth, case- and accent-insensitively, by prefix, best matches first.
func (s *Session) SearchPatients(ctx context.Context, query string, limit int) ([]Patient, error) {
	if err := s.require(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	order := s.dates
	s.mu.Unlock()
	match := buildQuery(query, order)
	if match == "" {
		return nil, nil
	}
	if limit <= 0 || limit > searchCandidates {
		limit = 50
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.locked {
		return nil, ErrLocked
	}
	type hit struct {
		p     Patient
		score int
		key   string
	}
	words := strings.Fields(foldAccents(query))
	hits, err := queryAll(ctx, s.general, func(r row) (hit, error) {
		p, err := scanPatient(r)
		return hit{p, score(p, words), foldAccents(p.Family + " " + p.Given)}, err
	}, `SELECT `+prefixed("p.", patientColumns)+` FROM patients p
		JOIN (SELECT docid FROM patients_fts WHERE patients_fts MATCH ? LIMIT ?) f ON f.docid = p.rowid
		WHERE p.archived = 0`, match, searchCandidates)
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].score != hits[j].score {
			return hits[i].score > hits[j].score
		}
		return hits[i].key < hits[j].key
	})
	out := make([]Patient, 0, min(limit, len(hits)))
	for i := 0; i < len(hits) && i < limit; i++ {
		out = append(out, hits[i].p)
	}
	return out, nil
}

// score ranks a match: a whole-word hit on the family name counts most,
// then given or preferred names, then prefixes.
func score(p Patient, words []string) int {
	fam := strings.Fields(foldAccents(p.Family))
	oth := strings.Fields(foldAccents(p.Given + " " + p.Preferred))
	total := 0
	for _, w := range words {
		best := 0
		for _, f := range fam {
			switch {
			case f == w:
				best = max(best, 6)
			case strings.HasPrefix(f, w):
				best = max(best, 3)
			}
		}
		for _, g := range oth {
			switch {
			case g == w:
				best = max(best, 5)
			case strings.HasPrefix(g, w):
				best = max(best, 2)
			}
		}
		if strings.EqualFold(p.MRN, w) {
			best = max(best, 10)
		}
		total += best
	}
	return total
}

func prefixed(prefix, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = prefix + parts[i]
	}
	return strings.Join(parts, ", ")
}

// searchIndexVersion names how the search index folds names; an index
// built otherwise is rebuilt at the next sign-in.
const searchIndexVersion = "2-fold-letters"

// upgradeSearchIndex rebuilds the search index when it was built by an
// earlier version (names folded without ø, ł, đ, æ, ß… or stacked marks,
// phones without their national form).
func (s *Session) upgradeSearchIndex(ctx context.Context) error {
	v, err := scalarOr(ctx, s.general, "", `SELECT value FROM settings WHERE name = 'search_index'`)
	if err != nil {
		return err
	}
	if v == searchIndexVersion {
		return nil
	}
	return inTx(ctx, s.general, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM patients_fts`); err != nil {
			return err
		}
		all, err := queryAll(ctx, tx, scanIndexed, `SELECT rowid, `+patientColumns+` FROM patients WHERE archived = 0 ORDER BY rowid`)
		if err != nil {
			return err
		}
		for _, e := range all {
			if err := insertFTS(ctx, tx, e.rowid, e.p); err != nil {
				return err
			}
		}
		return setSetting(ctx, tx, "search_index", searchIndexVersion)
	})
}
