package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	cvsync "github.com/clinicvault/clinicvault/sync"
)

// TestSyncThroughAFolderCloudsAndToolsChanged: a shared folder where a
// cloud service left conflict copies (of a batch, of a batch at the
// next number, of a computer's folder) and a tool upper-cased a
// computer's folder names still syncs: every genuine batch and audit
// file is taken, no copy is, nothing is refused, the copies are
// reported for an admin, and the computer whose folder was renamed goes
// on writing into it rather than beside it.
func TestSyncThroughAFolderCloudsAndToolsChanged(t *testing.T) {
	_, dir, a, b := twoMachines(t)
	ctx := context.Background()
	for _, family := range []string{"Alpha", "Bravo"} {
		if _, _, err := b.AddPatient(ctx, Patient{Given: "P", Family: family, DOB: "1990-01-01"}); err != nil {
			t.Fatal(err)
		}
		mustSync(t, b, dir)
	}
	dev := b.DeviceID()
	devDir := filepath.Join(dir, "devices", dev)
	seqs, err := cvsync.Folder{Dir: dir}.Seqs(dev, 0)
	if err != nil || len(seqs) == 0 {
		t.Fatalf("seqs %v, %v", seqs, err)
	}
	last := seqs[len(seqs)-1]
	env, err := os.ReadFile(filepath.Join(devDir, fmt.Sprintf("%012d", last)))
	if err != nil {
		t.Fatal(err)
	}
	copies := []string{
		filepath.Join(devDir, fmt.Sprintf("%012d (1)", last)),
		filepath.Join(devDir, fmt.Sprintf("%012d (conflicted copy 2026-12-07)", last+1)),
		filepath.Join(dir, "devices", dev+"-DESKTOP-ABC", fmt.Sprintf("%012d", last)),
	}
	for _, p := range copies {
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, env, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	upper := strings.ToUpper(dev)
	for _, p := range []string{filepath.Join(dir, "devices", dev), filepath.Join(dir, "audit", dev), filepath.Join(dir, "witness", dev)} {
		if _, err := os.Stat(p); err == nil {
			if err := os.Rename(p, filepath.Join(filepath.Dir(p), upper)); err != nil {
				t.Fatal(err)
			}
		}
	}
	auditFiles := func() int {
		n, err := scalar[int](ctx, a.general, `SELECT count(*) FROM audit_files WHERE device = ?`, dev)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	auditBefore := auditFiles()

	rep := mustSync(t, a, dir)
	for _, family := range []string{"alpha", "bravo"} {
		if got, _ := a.SearchPatients(ctx, family, 5); len(got) != 1 {
			t.Fatalf("%s did not arrive through the upper-cased folder: %+v", family, rep)
		}
	}
	if got, _ := a.lastReceived(ctx, dev); got != last {
		t.Fatalf("took up to batch %d, want %d (no copy at %d)", got, last, last+1)
	}
	if auditFiles() <= auditBefore {
		t.Errorf("no audit file of the laptop was taken from its upper-cased folder (%d before)", auditBefore)
	}
	var noted *SyncProblem
	for i, p := range rep.Problems {
		switch p.Kind {
		case ProblemCopies:
			noted = &rep.Problems[i]
		case ProblemMissing, ProblemFolder:
			t.Errorf("problem: %s", p)
		}
	}
	if noted == nil || !strings.Contains(noted.Detail, "3 copies") {
		t.Fatalf("the copies were not reported: %s", rep.ProblemText())
	}
	t.Log(noted.Detail)

	// The laptop writes on, into its folder as it now is.
	if _, _, err := b.AddPatient(ctx, Patient{Given: "P", Family: "Charlie", DOB: "1990-01-01"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, b, dir)
	if _, err := os.Stat(filepath.Join(dir, "devices", dev)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a second folder for the laptop was made beside the upper-cased one: %v", err)
	}
	mustSync(t, a, dir)
	if got, _ := a.SearchPatients(ctx, "charlie", 5); len(got) != 1 {
		t.Fatal("a batch written after the rename did not arrive")
	}
}

// TestAttackPairingDeviceIDInAnotherCase: an answer naming an existing
// computer's id in upper case, or in another UUID form, is refused: in
// a folder on Windows or macOS it would be that computer's folder.
func TestAttackPairingDeviceIDInAnotherCase(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	a := f.mustSignIn("Maria Admin", adminPass)
	mustSync(t, a, dir)
	for _, id := range []string{strings.ToUpper(a.DeviceID()), "urn:uuid:" + a.DeviceID(), "{" + a.DeviceID() + "}"} {
		if err := approveAnswerNaming(t, f, a, dir, id); !errors.Is(err, ErrInvalid) {
			t.Fatalf("an answer naming %s: %v", id, err)
		}
	}
}
