// Package quietlocale keeps the window toolkit from complaining about the
// "C" locale on every start.
//
// Fyne's lang package reads the locale in its init function and logs
// "Fyne error: Error parsing user locale C" to stderr when LANG (or LC_ALL,
// LC_MESSAGES, LANGUAGE) names the C or POSIX locale with a codeset, such as
// Debian's default C.UTF-8: that is the plain "no locale" of a fresh
// server, a container or a service, and every command printed the noise.
// This package's init runs first and rewrites such values to the bare "C",
// which the locale reader treats as "no locale" (English), and Restore
// puts the original values back once the toolkit has read them.
//
// It runs before Fyne's lang package by the language's own rule: packages
// are initialised in the order of their import paths, each once all its
// imports are; this one imports only os and strings, and sorts
// ("github.com/clinicvault/…") before the locale reader it must precede
// ("github.com/jeandeaual/go-locale", which lang imports). Keep it so: an
// import of anything outside the standard library would break the order.
// TestNoToolkitNoiseUnderCLocale (root package) checks it from the binary.
package quietlocale

import (
	"os"
	"strings"
)

// vars are the variables the locale reader consults, in its order.
var vars = []string{"LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"}

// saved holds each rewritten variable's original value.
var saved = map[string]string{}

func init() {
	for _, k := range vars {
		v, ok := os.LookupEnv(k)
		if !ok {
			continue
		}
		if q := Quiet(k, v); q != v {
			saved[k] = v
			os.Setenv(k, q)
		}
	}
}

// Quiet returns the value the locale reader should see for variable k
// holding v: v itself, except that a C or POSIX locale with a codeset or
// modifier ("C.UTF-8", "POSIX@x") becomes the bare "C", and C/POSIX
// entries are dropped from LANGUAGE's colon-separated list.
func Quiet(k, v string) string {
	if k == "LANGUAGE" {
		var keep []string
		for _, e := range strings.Split(v, ":") {
			if !isC(e) {
				keep = append(keep, e)
			}
		}
		return strings.Join(keep, ":")
	}
	if isC(v) && v != "C" && v != "POSIX" {
		return "C"
	}
	return v
}

// isC reports whether a locale name is the C or POSIX locale, with or
// without a codeset or modifier.
func isC(v string) bool {
	lang := v
	if i := strings.IndexAny(lang, ".@"); i >= 0 {
		lang = lang[:i]
	}
	return lang == "C" || lang == "POSIX"
}

// Restore puts back the values init rewrote, for the processes this one
// starts. Call it once the window toolkit has read the locale (it does so
// when its package is initialised).
func Restore() {
	for k, v := range saved {
		os.Setenv(k, v)
	}
}
