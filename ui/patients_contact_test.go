package ui

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit/kittest"
)

// drawsText reports whether some text drawn in the window (a label, a
// form's label, a check box's) is exactly s.
func drawsText(g *gui, s string) bool {
	for _, r := range kittest.Roots(g.win) {
		if kittest.Walk(r, func(o fyne.CanvasObject) bool {
			switch x := o.(type) {
			case *canvas.Text:
				return x.Text == s
			case *widget.Label:
				return x.Text == s
			}
			return false
		}) {
			return true
		}
	}
	return false
}

// TestNewPatientContactFields (issue #16, item 10): the New patient form
// has Mobile, "Agrees to SMS reminders" (offered only with a mobile),
// Home phone, Postcode and National number, reached by Tab in order; what
// is typed is registered; a refusal of one of them puts the cursor in it.
func TestNewPatientContactFields(t *testing.T) {
	p := newPractice(t)
	g := newTestGUI(t, p.v)
	p.signIn(t, g, frontDesk)
	for _, size := range []fyne.Size{{Width: 1366, Height: 768}, {Width: 1024, Height: 700}} {
		g.win.Resize(size)
		typeShortcut(t, g, newPatientShortcut)
		n := g.shell.patients.adding
		if n == nil || len(g.dialogs) != 1 {
			t.Fatal("Ctrl+N did not open the New patient form")
		}
		for _, label := range []string{"Mobile", "Home phone", "Postcode", "National number", "Agrees to SMS reminders", "Preferred language"} {
			if !drawsText(g, label) {
				t.Errorf("the form has no %q", label)
			}
		}
		if !n.sms.Disabled() {
			t.Error("SMS reminders are offered with no mobile number")
		}
		c := g.win.Canvas()
		c.Focus(n.given)
		// Without a mouse: type, Tab to the next field, in this order.
		for _, f := range []struct {
			w    fyne.Focusable
			text string
		}{
			{n.given, "Amara"}, {n.family, "Okafor"}, {n.preferred, ""}, {n.dob, "1990-05-17"}, {n.sex, ""},
			{n.national, "943  476 5919"}, {n.insurance, "Bupa 12345"}, {n.phone, "07700 900123"}, {n.sms, " "},
			{n.phone2, "020 7946 0001"}, {n.email, "amara@example.org"}, {n.address, "1 High Street, Riverside"},
			{n.postcode, "sw1a 1aa"}, {n.emergency, "Ngozi Okafor 07700 900124"}, {n.language, "Yoruba"}, {n.notes, ""},
		} {
			if c.Focused() != f.w {
				t.Fatalf("Tab order: %T %v has focus, want the field for %q", c.Focused(), c.Focused(), f.text)
			}
			for _, r := range f.text {
				f.w.TypedRune(r) // a space ticks the box
			}
			c.FocusNext()
		}
		if !n.sms.Checked || n.sms.Disabled() {
			t.Fatal("a mobile typed did not offer the SMS consent, or Space did not tick it")
		}
		n.sex.SetSelected("Female")
		shotAt(t, g, "patient-new-contact")
		if size.Width == 1366 {
			n.given.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
			if len(g.dialogs) != 0 {
				t.Fatal("Esc did not close the form")
			}
			continue
		}

		// Clearing the mobile takes the consent away with it.
		n.phone.SetText("")
		if n.sms.Checked || !n.sms.Disabled() {
			t.Error("the SMS consent stays without a mobile")
		}
		n.phone.SetText("07700 900123")
		test.Tap(n.sms)

		// A postcode app refuses: the cursor goes to the postcode.
		n.postcode.SetText("RIVERSIDE SW1A 1AA EXTRA")
		c.Focus(n.given)
		pressEnter(t, g, n.given)
		if n.created != nil || c.Focused() != n.postcode {
			t.Fatalf("a refused postcode: created %v, focus on %T", n.created, c.Focused())
		}
		shotAt(t, g, "patient-new-contact-error")
		n.postcode.SetText("sw1a 1aa")
		pressEnter(t, g, n.postcode)
		if n.created == nil {
			t.Fatalf("not registered: %q", n.f.status.Text)
		}
		got, err := p.session(t, "Dana Whitfield").GetPatient(context.Background(), n.created.MRN)
		if err != nil {
			t.Fatal(err)
		}
		want := app.Patient{Phone: "07700 900123", Phone2: "020 7946 0001", Postcode: "SW1A 1AA", NationalNumber: "943 476 5919", SMSConsent: true, Insurance: "Bupa 12345"}
		if got.Phone != want.Phone || got.Phone2 != want.Phone2 || got.Postcode != want.Postcode || got.NationalNumber != want.NationalNumber ||
			got.SMSConsent != want.SMSConsent || got.Insurance != want.Insurance || got.Sex != "female" || got.Language != "Yoruba" {
			t.Errorf("registered %+v", got)
		}
	}

	// The Patients screen finds her by the national number, and lists
	// the mobile; at both sizes.
	for _, size := range []fyne.Size{{Width: 1366, Height: 768}, {Width: 1024, Height: 700}} {
		g.win.Resize(size)
		typeShortcut(t, g, findShortcut)
		ps := g.shell.patients
		ps.search.SetText("9434765919")
		settle(t, g)
		if len(ps.results) != 1 || ps.results[0].Family != "Okafor" || !drawsText(g, "07700 900123") || !drawsText(g, "Mobile") {
			t.Fatalf("search by national number: %+v %q %q", ps.results, ps.count.Text, ps.shown)
		}
		shotAt(t, g, "patients-search-national-number")
	}
}

// TestImportPreviewNamesTheContactColumns: the import preview says which
// field each of the new columns fills (it showed nothing after the arrow
// for a field it had no words for).
func TestImportPreviewNamesTheContactColumns(t *testing.T) {
	v, clk := newTestVault(t)
	secret, _ := createVault(t, v, clk, "Riverside Family Practice", "Dana Whitfield")
	s := kittest.SignIn(t, v, clk, "Dana Whitfield", adminPass, secret)
	sheet := filepath.Join(t.TempDir(), "contacts.csv")
	os.WriteFile(sheet, []byte("Surname,First Name,DOB,Phone,Mobile,Home phone,Postcode,NHS number,SMS reminders\nOkafor,Amara,1990-05-17,,07700 900123,,,,yes\n"), 0o600)
	plan, err := s.PlanImport(context.Background(), sheet)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Mapping) != 9 {
		t.Fatalf("mapping %v", plan.Mapping)
	}
	for i, f := range plan.Mapping {
		if fieldWords[f] == "" {
			t.Errorf("column %q fills %q, which the preview has no words for", plan.Headers[i], f)
		}
	}
}
