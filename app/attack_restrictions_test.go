package app

// Restrictions follow the data (issue 13, item 2): through merges, and
// through sync, where only those who may change a restriction or review
// an emergency access locally may do it in a batch.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// restrictedChart registers a patient with a note, restricted by Dr Omar
// to himself; Dr Lee is a clinician not named on it. With a folder, each
// person's changes are sent as they would be while they are signed in.
func restrictedChart(t *testing.T, f *fixture, a *Session, dir string) (omar, lee *Session, p Patient) {
	t.Helper()
	ctx := context.Background()
	f.addUser(a, "Dr Omar Haddad", Clinician, docPass)
	f.addUser(a, "Dr Mei Lee", Clinician, "juniper kettle orbit canvas")
	f.addUser(a, "Rita Front", Receptionist, recPass)
	p, _, err := a.AddPatient(ctx, Patient{Given: "Vip", Family: "Private", DOB: "1961-06-06"})
	if err != nil {
		t.Fatal(err)
	}
	send := func(s *Session) {
		if dir != "" {
			mustSync(t, s, dir)
		}
	}
	send(a)
	omar = signInOn(t, f, a.v, "Dr Omar Haddad", docPass)
	if _, err := omar.AddEncounter(ctx, p.MRN, SOAP{Assessment: "private matter"}); err != nil {
		t.Fatal(err)
	}
	if err := omar.RestrictChart(ctx, p.MRN, nil); err != nil {
		t.Fatal(err)
	}
	send(omar)
	lee = signInOn(t, f, a.v, "Dr Mei Lee", "juniper kettle orbit canvas")
	send(lee)
	return omar, lee, p
}

// TestAttackRestrictedChartReadThroughADecoyMerge: Rita merges the
// restricted chart into a decoy; Dr Lee, not named on it, opens the decoy
// and reads everything, with no emergency access recorded. Now the merge
// is refused to Rita, and when a named clinician merges, the kept chart
// stays restricted to Dr Lee.
func TestAttackRestrictedChartReadThroughADecoyMerge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	omar, lee, p := restrictedChart(t, f, a, "")
	defer omar.Lock(ctx)
	defer lee.Lock(ctx)
	decoy, _, err := a.AddPatient(ctx, Patient{Given: "Decoy", Family: "Record", DOB: "1970-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	rita := signInOn(t, f, a.v, "Rita Front", recPass)
	defer rita.Lock(ctx)
	if err := rita.MergePatients(ctx, decoy.MRN, p.MRN); !errors.Is(err, ErrRestricted) {
		t.Fatalf("a receptionist merged a restricted chart into a decoy: %v", err)
	}
	if err := lee.MergePatients(ctx, decoy.MRN, p.MRN); !errors.Is(err, ErrRestricted) {
		t.Fatalf("a clinician not named on the restriction merged it: %v", err)
	}
	// The named clinician merges (a genuine duplicate): the restriction
	// comes along.
	if err := omar.MergePatients(ctx, decoy.MRN, p.MRN); err != nil {
		t.Fatal(err)
	}
	if c, err := lee.OpenChart(ctx, decoy.MRN); !errors.Is(err, ErrRestricted) {
		t.Fatalf("Dr Lee opens the kept chart holding the restricted history: %v %+v", err, c)
	}
	if err := lee.AddAllergy(ctx, decoy.MRN, Allergy{Substance: "Latex"}); !errors.Is(err, ErrRestricted) {
		t.Errorf("Dr Lee writes into the kept, restricted chart: %v", err)
	}
	c, err := omar.OpenChart(ctx, decoy.MRN)
	if err != nil || len(c.Encounters) != 1 {
		t.Fatalf("Dr Omar's kept chart: %v %+v", err, c)
	}
	// Emergency access opens it, recorded.
	c, err = lee.OpenChartEmergency(ctx, decoy.MRN, "patient collapsed in the waiting room")
	if err != nil || len(c.Encounters) != 1 {
		t.Fatalf("emergency access to the kept chart: %v", err)
	}
}

// forgeAs writes the next batch of the desk's log as name (her keys,
// the desk's device key read from its general.db), with recs.
func forgeAs(t *testing.T, f *fixture, a *Session, dir, name, pass string, recs func(userID string, hlc string) []cvsync.Record) {
	t.Helper()
	kr, err := store.LoadKeyring(a.v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	in, key, signKey, devKey := deskKeysAs(t, a.v.Dir, kr, name, pass)
	seq, prev := lastInFolder(t, dir, a.DeviceID())
	hlc := cvsync.Timestamp{Wall: uint64(f.clk.Now().Add(time.Minute).UnixMilli()), Device: a.DeviceID()}
	rs := recs(in.slot.UserID, hlc.String())
	for i := range rs {
		rs[i].Device, rs[i].Author = a.DeviceID(), in.slot.UserID
	}
	forge(t, dir, kr.VaultID, a.DeviceID(), seq+1, prev, a.currentEpoch(context.Background()), cvsync.General, key, in.slot.UserID, signKey, devKey, rs)
}

// TestAttackReceptionistChangesRestrictionsThroughSync: Rita writes, in
// the desk's log, a batch that lifts the chart's restriction, another
// that restricts a chart to a clinician of her choice, and one marking
// an emergency access reviewed by the admin. The laptop refuses each and
// says why.
func TestAttackReceptionistChangesRestrictionsThroughSync(t *testing.T) {
	for _, variant := range []string{"lift", "restrict", "review"} {
		t.Run(variant, func(t *testing.T) {
			f, dir, a, b := twoMachines(t)
			ctx := context.Background()
			omar, lee, p := restrictedChart(t, f, a, dir)
			if _, err := lee.OpenChartEmergency(ctx, p.MRN, "patient collapsed in the waiting room"); err != nil {
				t.Fatal(err)
			}
			mustSync(t, omar, dir)
			mustSync(t, lee, dir)
			omar.Lock(ctx)
			lee.Lock(ctx)
			mustSync(t, a, dir)
			mustSync(t, b, dir)
			var rid, eid, other string
			a.general.QueryRow(`SELECT id FROM chart_restrictions WHERE archived = 0`).Scan(&rid)
			a.general.QueryRow(`SELECT id FROM emergency_access`).Scan(&eid)
			a.general.QueryRow(`SELECT id FROM users WHERE name = 'Dr Mei Lee'`).Scan(&other)
			forgeAs(t, f, a, dir, "Rita Front", recPass, func(me, hlc string) []cvsync.Record {
				yes, now := "1", "1700000000"
				switch variant {
				case "lift":
					return []cvsync.Record{{HLC: hlc, Table: "chart_restrictions", RowID: rid, Columns: map[string]*string{"archived": &yes}}}
				case "restrict":
					pid := p.ID
					return []cvsync.Record{{HLC: hlc, Table: "chart_restrictions", RowID: newID(), Columns: map[string]*string{"patient_id": &pid, "clinician_id": &other, "added_by": &me}}}
				default:
					var admin string
					a.general.QueryRow(`SELECT id FROM users WHERE name = 'Maria Admin'`).Scan(&admin)
					note := "fine"
					return []cvsync.Record{{HLC: hlc, Table: "emergency_access", RowID: eid, Columns: map[string]*string{"reviewed_by": &admin, "reviewed_at": &now, "review_note": &note}}}
				}
			})
			rep, err := b.Sync(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Applied != 0 || rep.Halted == 0 || !strings.Contains(rep.ProblemText(), "receptionist") && !strings.Contains(rep.ProblemText(), "admin may review") {
				t.Fatalf("Rita's %s batch: %+v", variant, rep)
			}
			var active, reviewed int
			b.general.QueryRow(`SELECT count(*) FROM chart_restrictions WHERE archived = 0`).Scan(&active)
			b.general.QueryRow(`SELECT count(*) FROM emergency_access WHERE reviewed_at IS NOT NULL`).Scan(&reviewed)
			if active != 1 || reviewed != 0 {
				t.Fatalf("after Rita's %s batch the laptop has %d restriction rows, %d reviewed accesses", variant, active, reviewed)
			}
		})
	}
}

// TestAttackNarrowedRestrictionStaysWideElsewhere: a chart restricted to
// Dr Omar and Dr Lee is narrowed to Dr Omar at the desk. On the laptop
// Dr Lee could still open it: the old rows were archived without a
// change. Now the narrowing travels.
func TestAttackNarrowedRestrictionStaysWideElsewhere(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	omar, lee, p := restrictedChart(t, f, a, dir)
	lee.Lock(ctx)
	if err := omar.RestrictChart(ctx, p.MRN, []string{"Dr Mei Lee"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, omar, dir)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	if err := omar.RestrictChart(ctx, p.MRN, nil); err != nil {
		t.Fatal(err)
	}
	mustSync(t, omar, dir)
	omar.Lock(ctx)
	mustSync(t, b, dir)
	b.Lock(ctx)
	leeOnLaptop := signInOn(t, f, b.v, "Dr Mei Lee", "juniper kettle orbit canvas")
	defer leeOnLaptop.Lock(ctx)
	mustSync(t, leeOnLaptop, dir)
	if c, err := leeOnLaptop.OpenChart(ctx, p.MRN); !errors.Is(err, ErrRestricted) {
		t.Fatalf("on the laptop Dr Lee still opens the chart whose restriction was narrowed to Dr Omar: %v %+v", err, c)
	}
}

// TestRestrictAndLiftBeforeASyncTravelsInOneBatch: a chart restricted
// and lifted again before the computer syncs sends both in one batch;
// the other computer takes it (the lift names a row the same batch made).
func TestRestrictAndLiftBeforeASyncTravelsInOneBatch(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	p, _, _ := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	if err := a.RestrictChart(ctx, p.MRN, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.UnrestrictChart(ctx, p.MRN); err != nil {
		t.Fatal(err)
	}
	if err := a.RestrictChart(ctx, p.MRN, nil); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	rep := mustSync(t, b, dir)
	if rep.Halted != 0 || rep.Applied == 0 {
		t.Fatalf("the laptop refused the restrict-lift-restrict batch: %+v", rep)
	}
	var active int
	b.general.QueryRow(`SELECT count(*) FROM chart_restrictions WHERE archived = 0`).Scan(&active)
	if active != 1 {
		t.Fatalf("%d active restriction rows on the laptop, want 1", active)
	}
	_ = f
}
