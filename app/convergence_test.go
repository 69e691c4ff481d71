package app

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// replicatedDump renders the replicated content of a replica's general
// and clinical databases (local columns left out) for comparison.
func replicatedDump(t *testing.T, s *Session) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, mrn, given, family, dob, phone, archived, merged_into FROM patients ORDER BY id`,
		`SELECT id, name, role, removed_at, totp_reset, sign_pub FROM users ORDER BY id`,
		`SELECT id, patient_id, start_at, minutes, status FROM appointments ORDER BY id`,
		`SELECT id, archived FROM keyring_slots ORDER BY id`,
		`SELECT id, name, revoked_at FROM devices ORDER BY id`,
	} {
		rows, err := s.general.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			fmt.Fprintf(&b, "%v\n", vals)
		}
		rows.Close()
	}
	rows, _ := s.clinical.Query(`SELECT id, patient_id, substance, severity FROM allergies ORDER BY id`)
	for rows.Next() {
		var a, p, sub, sev string
		rows.Scan(&a, &p, &sub, &sev)
		fmt.Fprintf(&b, "%s %s %s %s\n", a, p, sub, sev)
	}
	rows.Close()
	return b.String()
}

// TestConvergence: 3–5 replicas in one process make random edits,
// archives, user and role changes, and sync in random order with random
// partitions and duplicate deliveries; after everyone syncs, every replica
// holds the same data.
func TestConvergence(t *testing.T) {
	if f := flag.Lookup("rapid.checks"); f != nil && f.Value.String() == "100" {
		flag.Set("rapid.checks", "6")
	}
	rapid.Check(t, func(rt *rapid.T) {
		f := newFixture(t)
		ctx := context.Background()
		dir := t.TempDir()
		n := rapid.IntRange(3, 5).Draw(rt, "replicas")
		reps := replicas(t, f, dir, n)
		var mrns []string
		users := 0
		steps := rapid.IntRange(10, 40).Draw(rt, "steps")
		for step := 0; step < steps; step++ {
			r := reps[rapid.IntRange(0, n-1).Draw(rt, "replica")]
			f.clk.Advance(1e6) // a millisecond
			switch rapid.IntRange(0, 6).Draw(rt, "op") {
			case 0:
				p, _, err := r.AddPatient(ctx, Patient{Given: rapid.SampledFrom([]string{"Ana", "José", "Li", "Seán"}).Draw(rt, "given"),
					Family: fmt.Sprintf("Fam%d", step), DOB: "1980-01-02"})
				if err == nil {
					mrns = append(mrns, p.MRN)
				}
			case 1:
				if len(mrns) > 0 {
					mrn := mrns[rapid.IntRange(0, len(mrns)-1).Draw(rt, "patient")]
					r.EditPatient(ctx, mrn, PatientChanges{Phone: Str(fmt.Sprintf("555 %04d", rapid.IntRange(0, 9999).Draw(rt, "phone")))})
				}
			case 2:
				if len(mrns) > 0 {
					r.ArchivePatient(ctx, mrns[rapid.IntRange(0, len(mrns)-1).Draw(rt, "archive")])
				}
			case 3:
				users++
				enr, _ := NewEnrollment(practice, "x")
				r.AddUser(ctx, fmt.Sprintf("Staff %d %d", step, users), Receptionist, "copper lantern meadow quietly", enr)
			case 4:
				list, _ := r.ListUsers(ctx)
				if len(list) > 1 {
					u := list[rapid.IntRange(0, len(list)-1).Draw(rt, "user")]
					if u.Name != "Maria Admin" {
						r.SetRole(ctx, u.Name, rapid.SampledFrom([]Role{Receptionist, Clinician}).Draw(rt, "role"))
					}
				}
			case 5:
				if len(mrns) > 0 {
					r.AddAllergy(ctx, mrns[rapid.IntRange(0, len(mrns)-1).Draw(rt, "allergy")], Allergy{Substance: "Latex",
						Severity: rapid.SampledFrom([]string{"mild", "severe"}).Draw(rt, "severity")})
				}
			case 6:
				// A sync pass; sometimes forget what was received from one
				// device, so its batches are delivered again.
				if rapid.Bool().Draw(rt, "duplicate") {
					r.general.Exec(`DELETE FROM sync_received WHERE device IN (SELECT device FROM sync_received ORDER BY random() LIMIT 1)`)
				}
				if _, err := r.Sync(ctx, dir); err != nil {
					rt.Fatalf("sync: %v", err)
				}
			}
		}
		// Heal the partitions: everyone syncs until nothing moves.
		for round := 0; round < 3; round++ {
			for _, r := range reps {
				if _, err := r.Sync(ctx, dir); err != nil {
					rt.Fatalf("final sync: %v", err)
				}
			}
		}
		want := replicatedDump(t, reps[0])
		for i, r := range reps[1:] {
			if got := replicatedDump(t, r); got != want {
				rt.Fatalf("replica %d differs from replica 0:\n%s\n--- vs ---\n%s", i+1, got, want)
			}
		}
		for _, r := range reps {
			r.Lock(ctx)
		}
	})
}

// replicas is n computers of f's practice, all signed in as its admin and
// in step through dir: the first one f's own, the rest paired to it.
func replicas(t *testing.T, f *fixture, dir string, n int) []*Session {
	t.Helper()
	first := f.mustSignIn("Maria Admin", adminPass)
	mustSync(t, first, dir)
	reps := []*Session{first}
	for i := 1; i < n; i++ {
		v := pair(t, f, first, dir, fmt.Sprintf("replica%d", i))
		mustSync(t, first, dir)
		reps = append(reps, signInOn(t, f, v, "Maria Admin", adminPass))
	}
	for _, r := range reps {
		mustSync(t, r, dir)
	}
	return reps
}
