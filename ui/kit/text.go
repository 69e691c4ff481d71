package kit

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Sentence capitalises s and ends it with a full stop (unless it already
// ends with one, an exclamation or a question mark); it is "" for a blank
// s.
func Sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "!") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}

// Plural says "1 minute" or "3 minutes" (for words that take an s).
func Plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// Day is a date as the screens show it ("2 Mar 2026"), or "never" for the
// zero time.
func Day(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2 Jan 2006")
}

// Duration is a span of time in words: "7 minutes", "1 hour 2 minutes", "45
// seconds" (seconds only under an hour).
func Duration(d time.Duration) string {
	d = d.Round(time.Second)
	h, mi, sec := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	var parts []string
	if h > 0 {
		parts = append(parts, Plural(h, "hour"))
	}
	if mi > 0 {
		parts = append(parts, Plural(mi, "minute"))
	}
	if sec > 0 && h == 0 {
		parts = append(parts, Plural(sec, "second"))
	}
	if len(parts) == 0 {
		return "less than a second"
	}
	return strings.Join(parts, " ")
}

// Ago says how long before now t was, roughly: "just now", then in
// minutes, hours or days ("3 hours ago").
func Ago(t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return Plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return Plural(int(d/time.Hour), "hour") + " ago"
	default:
		return Plural(int(d/(24*time.Hour)), "day") + " ago"
	}
}
