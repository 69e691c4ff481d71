package cli

import (
	"regexp"
	"strings"
	"testing"
)

// TestCLIPatientContactFields: patient add and edit take --mobile (the
// same number as --phone, which keeps working), --home-phone, --postcode,
// --national-number, --sms-consent and --language; patient show prints them; consent
// without a mobile is refused (exit 1), --phone and --mobile disagreeing
// is a usage error (exit 2).
func TestCLIPatientContactFields(t *testing.T) {
	h := newHarness(t)
	h.init()
	as := func(args ...string) (int, string, string) {
		return h.as("Maria Admin", adminPass, "", append([]string{"patient"}, args...)...)
	}
	code, out, errs := as("add", "--given", "Amara", "--family", "Okafor", "--dob", "1990-05-17", "--mobile", "07700 900123",
		"--home-phone", "020 7946 0001", "--postcode", "sw1a 1aa", "--national-number", "943 476 5919", "--sms-consent", "--language", "Polish")
	h.expect(0, code, out, errs)
	mrn := regexp.MustCompile(`(?m)^mrn: (\S+)$`).FindStringSubmatch(out)[1]

	show := func() string {
		t.Helper()
		code, out, errs := as("show", mrn)
		h.expect(0, code, out, errs)
		return out
	}
	out = show()
	for _, want := range []string{"phone: 07700 900123\n", "sms reminders: yes\n", "home phone: 020 7946 0001\n", "postcode: SW1A 1AA\n", "national number: 943 476 5919\n", "language: Polish\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = as("search", "9434765919")
	h.expect(0, code, out, errs)
	if !strings.HasPrefix(out, mrn+"\t") {
		t.Errorf("search by national number: %q", out)
	}

	// edit: only what is given; --phone still sets the mobile.
	code, out, errs = as("edit", mrn, "--phone", "07700 900999", "--sms-consent=false", "--postcode", "EC1A 1BB", "--language", "Polish, some English")
	h.expect(0, code, out, errs)
	out = show()
	for _, want := range []string{"phone: 07700 900999\n", "sms reminders: no\n", "home phone: 020 7946 0001\n", "postcode: EC1A 1BB\n", "national number: 943 476 5919\n", "language: Polish, some English\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("after edit, show lacks %q:\n%s", want, out)
		}
	}
	code, out, errs = as("edit", mrn, "--mobile", "07700 900111", "--sms-consent=yes")
	h.expect(0, code, out, errs)
	if out = show(); !strings.Contains(out, "phone: 07700 900111\n") || !strings.Contains(out, "sms reminders: yes\n") {
		t.Errorf("--mobile and --sms-consent=yes:\n%s", out)
	}

	// Refusals.
	code, out, errs = as("add", "--given", "No", "--family", "Mobile", "--dob", "1990-01-01", "--home-phone", "020 7946 0002", "--sms-consent")
	h.expect(1, code, out, errs)
	if !strings.Contains(errs, "SMS reminders need a mobile number") {
		t.Errorf("consent without a mobile: %q", errs)
	}
	code, out, errs = as("edit", mrn, "--phone", "07700 900123", "--mobile", "07700 900124")
	h.expect(2, code, out, errs)
	code, out, errs = as("edit", mrn, "--sms-consent=perhaps")
	h.expect(2, code, out, errs)
	code, out, errs = as("edit", mrn, "--phone", "07700 900123", "--mobile", "07700 900123")
	h.expect(0, code, out, errs)
}
