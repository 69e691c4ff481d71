package app

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/clinicvault/clinicvault/assets"
	"github.com/clinicvault/clinicvault/store"
	"github.com/trustelem/zxcvbn"
)

// Passphrase policy after NIST SP 800-63B section 5.1.1.2: length, not
// composition rules; a blocklist; no context words; a strength estimate.
const (
	MinPassphraseRunes = 12
	MaxPassphraseRunes = 256 // at least 128 must be accepted
	MinStrengthScore   = 3   // zxcvbn score 0..4
)

// ErrPolicy is wrapped by every passphrase refusal.
var ErrPolicy = errors.New("passphrase refused")

// PolicyError says in plain words why a passphrase was refused.
type PolicyError struct{ Reason string }

func (e *PolicyError) Error() string { return e.Reason }

// Unwrap makes errors.Is(err, ErrPolicy) true.
func (e *PolicyError) Unwrap() error { return ErrPolicy }

// Policy checks new passphrases. It is safe for concurrent use.
type Policy struct {
	once      sync.Once
	blocklist map[string]struct{}
}

// NewPolicy returns a policy with the shipped blocklist (loaded on first use).
func NewPolicy() *Policy { return &Policy{} }

func (p *Policy) blocked(s string) bool {
	p.once.Do(func() { p.blocklist = assets.Blocklist() })
	_, ok := p.blocklist[s]
	return ok
}

// Strength is the live meter's reading of a passphrase.
type Strength struct {
	Score  int    // 0..4, zxcvbn's estimate
	OK     bool   // the policy accepts it
	Reason string // why not, in plain words; empty when OK
}

// Measure returns the meter reading for a candidate passphrase; names are
// the user's and the practice's names, which it must not contain.
func (p *Policy) Measure(passphrase string, names ...string) Strength {
	err := p.Check(passphrase, names...)
	st := Strength{OK: err == nil}
	if err != nil {
		st.Reason = err.Error()
	}
	norm := store.NormalizePassphrase(passphrase)
	if norm != "" {
		st.Score = zxcvbn.PasswordStrength(truncateRunes(norm, 100), contextWords(names)).Score
	}
	return st
}

// Check returns nil when the passphrase is acceptable, or a *PolicyError
// naming the reason.
func (p *Policy) Check(passphrase string, names ...string) error {
	if !utf8.ValidString(passphrase) {
		return &PolicyError{"The passphrase contains characters that are not valid text."}
	}
	norm := store.NormalizePassphrase(passphrase)
	n := utf8.RuneCountInString(norm)
	if n < MinPassphraseRunes {
		return &PolicyError{fmt.Sprintf("Too short: use at least %d characters (you have %d). A few unrelated words work well.", MinPassphraseRunes, n)}
	}
	if n > MaxPassphraseRunes {
		return &PolicyError{fmt.Sprintf("Too long: use at most %d characters.", MaxPassphraseRunes)}
	}
	for _, r := range norm {
		if unicode.IsControl(r) {
			return &PolicyError{"The passphrase contains a control character (such as a tab or line break)."}
		}
	}
	folded := fold(norm)
	// The name first: "Riverside2024!" is refused for holding the
	// practice's name, the reason the person can act on.
	for _, name := range names {
		for _, part := range nameParts(name) {
			if strings.Contains(folded, part) {
				return &PolicyError{fmt.Sprintf("Do not use your name or the practice's name (%q) in the passphrase.", part)}
			}
		}
	}
	if p.blocked(folded) || p.blocked(strings.TrimFunc(folded, notLetter)) {
		return &PolicyError{"This is one of the most common passwords, which attackers try first. Choose something else."}
	}
	if score := zxcvbn.PasswordStrength(truncateRunes(norm, 100), contextWords(names)).Score; score < MinStrengthScore {
		return &PolicyError{"Too easy to guess: it follows a common pattern (a word with digits, a keyboard row, a date or a repeat). Add another unrelated word."}
	}
	return nil
}

// fold lowercases and removes white space, so "Correct Horse" matches
// "correcthorse" on the blocklist.
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

func notLetter(r rune) bool { return !unicode.IsLetter(r) }

// nameParts returns the parts of a name long enough to matter: "Dr Ana
// Núñez" gives "ana" and "núñez"; parts under 3 letters are ignored.
func nameParts(name string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(strings.ToLower(store.NormalizePassphrase(name)), notLetter) {
		if utf8.RuneCountInString(f) >= 3 && f != "the" && f != "and" {
			out = append(out, f)
		}
	}
	if whole := fold(store.NormalizePassphrase(name)); utf8.RuneCountInString(whole) >= 3 {
		out = append(out, whole)
	}
	return out
}

func contextWords(names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, nameParts(n)...)
	}
	return append(out, "clinic", "clinicvault", "practice", "doctor", "medical")
}

// truncateRunes bounds zxcvbn's work: its matching is super-linear.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}
