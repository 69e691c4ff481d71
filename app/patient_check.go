package app

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Checking what people type into a patient's record: patientTable says
// which check each field gets; validatePatient runs them.

// ErrInvalid is wrapped by every refusal of bad input; the message names
// the field and what is wrong with it.
var ErrInvalid = errors.New("invalid input")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), ErrInvalid)
}

// FieldError is a refusal of one field of a patient's record: a form
// points at Field; the message says what is wrong. It wraps ErrInvalid.
type FieldError struct {
	Field PatientField
	Msg   string
}

func (e *FieldError) Error() string { return e.Msg + ": " + ErrInvalid.Error() }
func (e *FieldError) Unwrap() error { return ErrInvalid }

// fieldInvalid is a refusal of field f.
func fieldInvalid(f PatientField, format string, a ...any) error {
	return &FieldError{Field: f, Msg: fmt.Sprintf(format, a...)}
}

// asField makes a refusal of bad input (cleanText's, ParseDOB's) name f.
func asField(f PatientField, err error) error {
	if err == nil || !errors.Is(err, ErrInvalid) {
		return err
	}
	return &FieldError{Field: f, Msg: strings.TrimSuffix(err.Error(), ": "+ErrInvalid.Error())}
}

// Field limits.
const (
	maxNameRunes  = 100
	maxShortRunes = 200
	maxNoteBytes  = 64 << 10
	// The longest postal codes are ten or eleven characters ("12345-6789",
	// "12345-67890"); national health numbers are shorter than 20.
	maxPostcodeRunes = 16
	maxNationalRunes = 30
)

// validatePatient checks and normalises every field of p. A refusal is a
// *FieldError naming the field.
func (s *Session) validatePatient(p *Patient) error {
	// First every typed field is clean text (a pasted tab or line break
	// inside a postcode or a number is spacing)...
	for i := range patientTable {
		f := &patientTable[i]
		v := f.textOf(p)
		if v == nil || f.max == 0 {
			continue
		}
		if f.spaced && utf8.ValidString(*v) {
			*v = singleSpaced(*v)
		}
		clean, err := cleanText(f.name, *v, f.max, f.multiline)
		if err != nil {
			return asField(f.col, err)
		}
		*v = clean
	}
	// ...then the names are there, and each field is what it says.
	if p.Given == "" {
		return fieldInvalid(FieldGiven, "the given name is empty")
	}
	if p.Family == "" {
		return fieldInvalid(FieldFamily, "the family name is empty")
	}
	now := s.v.now()
	for i := range patientTable {
		f := &patientTable[i]
		if f.check == nil {
			continue
		}
		v := f.textOf(p)
		checked, err := f.check(*v, now)
		if err != nil {
			return asField(f.col, err)
		}
		*v = checked
	}
	if p.SMSConsent && p.Phone == "" {
		return fieldInvalid(FieldSMSConsent, "SMS reminders need a mobile number")
	}
	return nil
}

// cleanText trims, normalises to NFC and refuses control characters.
func cleanText(field, s string, maxRunes int, multiline bool) (string, error) {
	if !utf8.ValidString(s) {
		return "", invalid("%s is not valid text", field)
	}
	s = strings.TrimSpace(norm.NFC.String(s))
	if n := utf8.RuneCountInString(s); n > maxRunes {
		return "", invalid("%s is %d characters long; the limit is %d", field, n, maxRunes)
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r' || r == '\t')) {
			return "", invalid("%s contains a control character", field)
		}
	}
	return s, nil
}

// singleSpaced is s with every run of white space one space, upper case:
// how a postcode or a national number is kept ("sw1a  1aa" -> "SW1A 1AA").
func singleSpaced(s string) string {
	return strings.ToUpper(strings.Join(strings.Fields(s), " "))
}

// ParseDOB checks a date of birth typed as YYYY-MM-DD: a real date, not in
// the future, not before 1880.
func ParseDOB(s string, now time.Time) (string, error) {
	s = strings.TrimSpace(s)
	d, err := time.Parse("2006-01-02", s)
	if err != nil {
		return "", invalid("date of birth %q is not a date in the form YYYY-MM-DD", s)
	}
	if d.After(now) {
		return "", invalid("date of birth %s is in the future", s)
	}
	if d.Year() < 1880 {
		return "", invalid("date of birth %s is before 1880", s)
	}
	return d.Format("2006-01-02"), nil
}

var sexes = map[string]string{
	"": "", "f": "female", "female": "female", "m": "male", "male": "male",
	"x": "other", "other": "other", "u": "unknown", "unknown": "unknown",
}

// checkSex reads a sex as typed: female, male, other, unknown or their
// first letters.
func checkSex(v string, _ time.Time) (string, error) {
	sex, ok := sexes[strings.ToLower(strings.TrimSpace(v))]
	if !ok {
		return "", invalid("sex %q is not one of female, male, other, unknown", v)
	}
	return sex, nil
}

// checkPhone refuses what is not a phone number; name says which.
func checkPhone(name string) func(string, time.Time) (string, error) {
	return func(v string, _ time.Time) (string, error) {
		if v != "" && !looksLikePhone(v) {
			return "", invalid("%s %q has characters a phone number does not", name, v)
		}
		return v, nil
	}
}

func checkEmail(v string, _ time.Time) (string, error) {
	if v != "" && !looksLikeEmail(v) {
		return "", invalid("email %q is not an email address", v)
	}
	return v, nil
}

// looksLikePhone is the regexp ^\+?[0-9 ()./-]{3,30}$ written out (an
// import checks every row; the regexp was a third of planning a sheet).
func looksLikePhone(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if len(s) < 3 || len(s) > 30 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && c != ' ' && c != '(' && c != ')' && c != '.' && c != '/' && c != '-' {
			return false
		}
	}
	return true
}

// looksLikeEmail is the regexp ^[^@\s]+@[^@\s]+\.[^@\s]+$ written out: one
// @ with something before it, a dot inside what follows, no white space.
func looksLikeEmail(s string) bool {
	at := -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\f', '\r':
			return false
		case '@':
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if at < 1 {
		return false
	}
	domain := s[at+1:]
	for i := 1; i < len(domain)-1; i++ {
		if domain[i] == '.' {
			return true
		}
	}
	return false
}
