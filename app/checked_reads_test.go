package app

import (
	"context"
	"testing"

	"github.com/clinicvault/clinicvault/store"
)

// brokenQuerier is a querier every read of which fails, as a damaged or
// closed database does: a transaction already rolled back.
func brokenQuerier(t *testing.T, s *Session) querier {
	t.Helper()
	tx, err := s.general.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	return tx
}

// A restriction that cannot be read closes the chart: never "not
// restricted", never "allowed".
func TestChartAllowedFailsClosed(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	ctx := context.Background()
	for _, r := range []struct{ id, patient, clinician string }{
		{"r1", "p-mine", "u-me"}, {"r2", "p-mine", "u-other"}, {"r3", "p-theirs", "u-other"},
	} {
		if _, err := s.general.ExecContext(ctx, `INSERT INTO chart_restrictions (id, patient_id, clinician_id, added_by, created_at) VALUES (?, ?, ?, 'u-admin', 0)`,
			r.id, r.patient, r.clinician); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name                string
		q                   querier
		patient             string
		allowed, restricted bool
		wantErr             bool
	}{
		{"unrestricted", s.general, "p-open", true, false, false},
		{"restricted, named", s.general, "p-mine", true, true, false},
		{"restricted, not named", s.general, "p-theirs", false, true, false},
		{"restriction unreadable", brokenQuerier(t, s), "p-open", false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allowed, restricted, err := chartAllowed(ctx, tc.q, tc.patient, "u-me")
			if allowed != tc.allowed || restricted != tc.restricted || (err != nil) != tc.wantErr {
				t.Errorf("chartAllowed = %v, %v, %v; want %v, %v, error %v", allowed, restricted, err, tc.allowed, tc.restricted, tc.wantErr)
			}
		})
	}
}

// An emergency access that cannot be read is no emergency access, and
// the caller that can hear why is told.
func TestEmergencyAccessUnreadableIsNoAccess(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	ctx := context.Background()
	if _, err := s.general.ExecContext(ctx, `INSERT INTO emergency_access (id, patient_id, user_id, reason, at) VALUES ('e1', 'p1', ?, 'a reason given', ?)`,
		s.user.ID, s.v.now().Unix()); err != nil {
		t.Fatal(err)
	}
	if had, err := s.emergencyAccessed(ctx, s.general, "p1"); !had || err != nil {
		t.Fatalf("emergencyAccessed of a recent access = %v, %v; want true", had, err)
	}
	broken := brokenQuerier(t, s)
	if had, err := s.emergencyAccessed(ctx, broken, "p1"); had || err == nil {
		t.Fatalf("emergencyAccessed through a broken database = %v, %v; want false and an error", had, err)
	}
	if s.hadEmergencyAccess(ctx, broken, "p1") {
		t.Fatal("hadEmergencyAccess through a broken database said yes")
	}
}

// Whom a key is kept from must be read, or nobody gains the key: an
// unreadable lineage is an error, and ensureEscrow given no answer
// changes nothing.
func TestKeyLineageUnreadableGrantsNothing(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	ctx := context.Background()
	broken := brokenQuerier(t, s)
	if gone, err := generalLine.keptFrom(ctx, broken, s.kGen); err == nil {
		t.Fatalf("keptFrom through a broken database = %v and no error", gone)
	}
	if gone := generalLine.excluded(ctx, broken, s.kGen); gone != nil {
		t.Fatalf("excluded through a broken database = %v, want nil", gone)
	}
	if gone, err := generalLine.keptFrom(ctx, s.general, s.kGen); gone == nil || err != nil {
		t.Fatalf("keptFrom = %v, %v; want an empty set", gone, err)
	}
	if _, err := generalLine.heads(ctx, broken); err == nil {
		t.Fatal("heads through a broken database gave no error")
	}
	if _, err := generalLine.shouldMove(ctx, broken, s.kGen, store.NewKey()); err == nil {
		t.Fatal("shouldMove through a broken database gave no error")
	}

	kr, err := store.LoadKeyring(s.v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	before := len(kr.Escrow)
	if ensureEscrow(kr, store.NewKey(), nil) || len(kr.Escrow) != before {
		t.Fatalf("ensureEscrow with an unread lineage changed the escrow (%d boxes, was %d)", len(kr.Escrow), before)
	}
	if !ensureEscrow(kr, store.NewKey(), map[string]bool{}) {
		t.Fatal("ensureEscrow with a new key and no one excluded changed nothing")
	}
}

// A seat limit or a head count that cannot be read refuses the account.
func TestCheckSeatFailsClosed(t *testing.T) {
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	ctx := context.Background()
	if err := s.checkSeat(ctx, s.general); err != nil {
		t.Fatalf("checkSeat without a limit: %v", err)
	}
	if err := s.checkSeat(ctx, brokenQuerier(t, s)); err == nil {
		t.Fatal("checkSeat through a broken database allowed the account")
	}
}
