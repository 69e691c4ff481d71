package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDiskFullLosesNothing (#15, item 7): the vault's disk fills up
// during an import. The import fails whole, in words (ErrDiskFull, not
// SQLite's text); every patient saved before is there; the audit chain
// verifies; after space is freed the vault works on.
func TestDiskFullLosesNothing(t *testing.T) {
	disk := smallDisk(t)
	f := newFixture(t)
	ctx := context.Background()
	v := NewVault(filepath.Join(disk, "vault"))
	v.Now = f.clk.Now
	v.UseMinimumKDF()
	enr, err := NewEnrollment(practice, "Maria Admin")
	if err != nil {
		t.Fatal(err)
	}
	enr.Confirm(f.codeFor(enr.Secret()), f.clk.Now())
	if _, err := v.Create(ctx, practice, "Maria Admin", adminPass, enr); err != nil {
		t.Fatalf("create on the small disk: %v", err)
	}
	f.v, f.secrets["Maria Admin"] = v, enr.Secret()
	ballast := filepath.Join(disk, "ballast")
	os.WriteFile(ballast, make([]byte, 4<<20), 0o600)
	a := f.mustSignIn("Maria Admin", adminPass)
	var saved []string
	for i := range 20 {
		p, _, err := a.AddPatient(ctx, Patient{Given: "Saved", Family: fmt.Sprintf("Before%02d", i), DOB: "1980-01-01"})
		if err != nil {
			t.Fatal(err)
		}
		saved = append(saved, p.MRN)
	}
	for round := 0; round < 50 && err == nil; round++ {
		err = a.AddPatients(ctx, DemoPatients(5000, uint64(round), f.clk.Now()), nil)
	}
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("filling the disk: %v, want ErrDiskFull", err)
	}
	if strings.Contains(err.Error(), "database or disk is full") {
		t.Fatalf("SQLite's text reaches the person: %q", err)
	}
	for _, m := range saved {
		if _, err := a.GetPatient(ctx, m); err != nil {
			t.Fatalf("patient %s saved before the disk filled: %v", m, err)
		}
	}
	if _, err := a.AuditVerify(ctx); err != nil {
		t.Fatalf("the audit chain after the disk filled: %v", err)
	}
	os.Remove(ballast)
	if _, _, err := a.AddPatient(ctx, Patient{Given: "After", Family: "Space", DOB: "1980-01-01"}); err != nil {
		t.Fatalf("a save once space is freed: %v", err)
	}
}
