package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unicode"

	"github.com/clinicvault/clinicvault/assets"
)

// The allergy check on prescribing: every new medication is compared with
// the patient's recorded allergies by substance and by drug class (the
// sourced table in assets/drug_allergy_classes.csv). A conflict stops the
// save until the clinician gives a reason to go on; the override is kept
// with the medication and audited. The table is a warning aid: a drug it
// does not know is compared by name only.

// ErrAllergyConflict is wrapped by *AllergyConflictError.
var ErrAllergyConflict = errors.New("the medication conflicts with a recorded allergy")

// AllergyConflict is one recorded allergy a medication runs into.
type AllergyConflict struct {
	Allergy Allergy
	Drug    string // the medication as the table knows it ("" when unknown)
	Class   string // the class they share ("" for the same substance)
	// CrossReactivity: the medication's class may cross-react with the
	// allergy's (a cephalosporin for a penicillin allergy), not the same.
	CrossReactivity bool
}

func (c AllergyConflict) String() string {
	allergy := c.Allergy.Substance
	var how []string
	for _, s := range []string{c.Allergy.Reaction, c.Allergy.Severity} {
		if s != "" {
			how = append(how, s)
		}
	}
	if len(how) > 0 {
		allergy += " (" + strings.Join(how, ", ") + ")"
	}
	switch {
	case c.CrossReactivity:
		return fmt.Sprintf("possible cross-reactivity: %s is one of the %s, and the patient is allergic to %s", c.Drug, c.Class, allergy)
	case c.Class != "":
		return fmt.Sprintf("%s is one of the %s, and the patient is allergic to %s", c.Drug, c.Class, allergy)
	default:
		return "the patient is allergic to " + allergy
	}
}

// AllergyConflictError refuses a medication that conflicts with recorded
// allergies when no reason to go on was given.
type AllergyConflictError struct {
	Medication string
	Conflicts  []AllergyConflict
}

func (e *AllergyConflictError) Error() string {
	var s []string
	for _, c := range e.Conflicts {
		s = append(s, c.String())
	}
	return fmt.Sprintf("%s: %s; give a reason to prescribe it all the same", e.Medication, strings.Join(s, "; "))
}

func (e *AllergyConflictError) Unwrap() error { return ErrAllergyConflict }

type drugEntry struct {
	name             string
	atc              string
	classes, related []string
}

type drugTable struct {
	drugs   map[string]*drugEntry // by normalised name and synonym
	classes map[string]string     // normalised word → class
	longest int                   // the most words in a drug name
}

var (
	drugsOnce sync.Once
	drugs     *drugTable
)

func theDrugTable() *drugTable {
	drugsOnce.Do(func() { drugs = parseDrugTable(assets.DrugAllergyClasses()) })
	return drugs
}

func parseDrugTable(src string) *drugTable {
	t := &drugTable{drugs: map[string]*drugEntry{}, classes: map[string]string{}}
	list := func(s string) []string {
		var out []string
		for _, x := range strings.Split(s, "|") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
		return out
	}
	for _, line := range strings.Split(src, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		switch {
		case f[0] == "class" && len(f) >= 3:
			t.classes[drugKey(f[1])] = f[1]
			for _, syn := range list(f[2]) {
				t.classes[drugKey(syn)] = f[1]
			}
		case f[0] == "drug" && len(f) >= 6:
			d := &drugEntry{name: f[1], atc: f[3], classes: list(f[4]), related: list(f[5])}
			for _, n := range append([]string{f[1]}, list(f[2])...) {
				k := drugKey(n)
				t.drugs[k] = d
				t.longest = max(t.longest, len(strings.Fields(k)))
			}
		}
	}
	return t
}

// drugKey normalises a drug or allergy name: lowercase, no accents,
// words separated by single spaces (hyphens, slashes and plus signs
// too).
func drugKey(s string) string {
	s = foldAccents(s)
	s = strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return ' '
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// lookup finds a medication as written ("Amoxicillin 500 mg capsules",
// "Penicillin V"): the longest run of its first words the table knows.
func (t *drugTable) lookup(name string) *drugEntry {
	words := strings.Fields(drugKey(name))
	for n := min(len(words), t.longest); n > 0; n-- {
		if d := t.drugs[strings.Join(words[:n], " ")]; d != nil {
			return d
		}
	}
	return nil
}

// allergyClasses lists what an allergy as recorded covers: a class named
// ("Penicillin", "sulfa drugs"), or a drug and its classes ("amoxicillin").
func (t *drugTable) allergyClasses(substance string) (classes map[string]bool, drug *drugEntry) {
	classes = map[string]bool{}
	k := drugKey(substance)
	if c, ok := t.classes[k]; ok {
		classes[c] = true
	}
	// "Penicillins (anaphylaxis)" or "allergy to sulfa": any known class
	// word in it.
	for _, w := range strings.Fields(k) {
		if c, ok := t.classes[w]; ok {
			classes[c] = true
		}
	}
	if d := t.lookup(substance); d != nil {
		drug = d
		for _, c := range d.classes {
			classes[c] = true
		}
	}
	return classes, drug
}

// conflicts compares a medication with a patient's allergies.
func (t *drugTable) conflicts(medication string, allergies []Allergy) []AllergyConflict {
	med := t.lookup(medication)
	medKey := drugKey(medication)
	var out []AllergyConflict
	for _, a := range allergies {
		classes, drug := t.allergyClasses(a.Substance)
		sub := drugKey(a.Substance)
		if med != nil && drug == med {
			out = append(out, AllergyConflict{Allergy: a, Drug: med.name})
			continue
		}
		if c := t.classConflict(a, med, classes); c != nil {
			out = append(out, *c)
			continue
		}
		// A drug the table does not know, or an allergy to a substance it
		// does not know: by name.
		if sub != "" && (strings.Contains(" "+medKey+" ", " "+sub+" ") || (med != nil && strings.Contains(" "+sub+" ", " "+drugKey(med.name)+" "))) {
			out = append(out, AllergyConflict{Allergy: a, Drug: medication})
		}
	}
	return out
}

// classConflict is the class a medication shares with an allergy's, or
// one that may cross-react.
func (t *drugTable) classConflict(a Allergy, med *drugEntry, classes map[string]bool) *AllergyConflict {
	if med == nil {
		return nil
	}
	for _, c := range med.classes {
		if classes[c] {
			return &AllergyConflict{Allergy: a, Drug: med.name, Class: c}
		}
	}
	for _, c := range med.related {
		if classes[c] && len(med.classes) > 0 {
			return &AllergyConflict{Allergy: a, Drug: med.name, Class: med.classes[0], CrossReactivity: true}
		}
	}
	return nil
}

// MedicationConflicts lists the patient's recorded allergies a medication
// named name runs into, for the window to warn before saving.
func (s *Session) MedicationConflicts(ctx context.Context, mrn, name string) ([]AllergyConflict, error) {
	var out []AllergyConflict
	err := s.clinicalRead(ctx, mrn, func(q querier, p Patient) error {
		allergies, err := s.allergiesOf(ctx, q, p.ID)
		if err != nil {
			return err
		}
		out = theDrugTable().conflicts(name, allergies)
		return nil
	})
	return out, err
}

// allergiesOf lists the current allergies of a patient and of the records
// merged into it.
func (s *Session) allergiesOf(ctx context.Context, q querier, patientID string) ([]Allergy, error) {
	ids, err := patientIDs(ctx, s.general, patientID)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, q, scanAllergy, `SELECT id, substance, reaction, severity FROM allergies WHERE archived = 0 AND patient_id IN (`+placeholders(len(ids))+`)`, anySlice(ids)...)
}

// scanAllergy reads id, substance, reaction, severity.
func scanAllergy(r row) (Allergy, error) {
	var a Allergy
	err := r.Scan(&a.ID, &a.Substance, &a.Reaction, &a.Severity)
	return a, err
}
