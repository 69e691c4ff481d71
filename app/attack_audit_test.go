package app

// The audit trail survives its own database (issue 13, item 1): a member
// of staff with the general key rewrites her computer's audit log so
// that its own chain still verifies; the other computers saw it before.

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// deleteAuditTail is the attack: with the general key, drop the delete
// trigger, delete the rows from seq on, lower sqlite_sequence and the
// published marker, put the trigger back. The chain left verifies.
func deleteAuditTail(t *testing.T, dataDir string, kGen []byte, from int64) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(dataDir, store.General.FileName()), store.General, kGen)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`DROP TRIGGER audit_no_delete`,
		`DELETE FROM audit WHERE seq >= ?`,
		`UPDATE sqlite_sequence SET seq = ? - 1 WHERE name = 'audit'`,
		`UPDATE settings SET value = CAST(? - 1 AS TEXT) WHERE name = 'audit_published'`,
		`DELETE FROM audit_witness WHERE ? > 0`,
		`DELETE FROM audit_problems WHERE ? > 0`,
		`CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END`,
	} {
		args := []any{}
		if strings.Contains(q, "?") {
			args = append(args, from)
		}
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatal(q, err)
		}
	}
	if _, err := store.VerifyAudit(context.Background(), db); err != nil {
		t.Fatalf("the attack leaves a chain that does not verify on its own (it should): %v", err)
	}
}

// TestAttackReceptionistDeletesHerExportFromTheAuditLog: Rita exports the
// practice as plaintext CSV at the desk; the desk syncs, the laptop sees
// its audit entries. Then Rita deletes the export's entry and everything
// after it with the general key. The desk's own chain verifies — but
// audit verify there names the laptop as the witness and the missing
// entries, the laptop sees the rewritten log at its next pass, and the
// laptop's audit list shows the desk's entries, with the desk's name.
func TestAttackReceptionistDeletesHerExportFromTheAuditLog(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	a.Lock(ctx)
	rita := signInOn(t, f, a.v, "Rita Front", recPass)
	var out bytes.Buffer
	if _, err := rita.Export(ctx, &out, ExportOptions{Format: FormatCSV, Passphrase: "harbour lantern quiet orchard"}); err != nil {
		t.Fatal(err)
	}
	var exportSeq int64
	rita.general.QueryRow(`SELECT max(seq) FROM audit WHERE action = 'export'`).Scan(&exportSeq)
	mustSync(t, rita, dir)
	mustSync(t, b, dir)
	mustSync(t, rita, dir) // the laptop's witness reaches the desk
	rita.Lock(ctx)
	if list, err := b.AuditList(ctx, 0); err != nil || !hasEntry(list, "export", a.v) {
		t.Fatalf("the laptop's audit list lacks the desk's export entry: %v", err)
	}

	kr, _ := store.LoadKeyring(a.v.Dir)
	in := unwrapInsider(t, kr, "Rita Front", recPass)
	deleteAuditTail(t, a.v.Dir, in.kGen, exportSeq)

	// At the desk: the admin signs in, syncs, verifies.
	m := signInOn(t, f, a.v, "Maria Admin", adminPass)
	defer m.Lock(ctx)
	mustSync(t, m, dir)
	_, err := m.AuditVerify(ctx)
	var w *AuditWitnessError
	if !errors.As(err, &w) || !errors.Is(err, ErrAuditTampered) {
		t.Fatalf("audit verify at the desk after the tail was deleted: %v", err)
	}
	p := w.Problems[0]
	if !p.This || p.From != exportSeq || p.To < exportSeq || !strings.Contains(p.Witness, "laptop") {
		t.Fatalf("the problem does not name the witness and the missing entries: %+v", w.Problems)
	}
	if items, _ := m.SecurityReport(ctx); !attention(items, "audit-witnessed") {
		t.Error("the Security Center does not show it")
	}
	// The laptop, at its next pass, sees the desk's log rewritten.
	f.clk.Advance(time.Minute)
	rep := mustSync(t, b, dir)
	if !strings.Contains(rep.ProblemText(), "rewritten") {
		t.Fatalf("the laptop does not see the rewritten log: %+v", rep)
	}
	if _, err := b.AuditVerify(ctx); !errors.Is(err, ErrAuditTampered) {
		t.Fatalf("audit verify on the laptop: %v", err)
	}
}

// TestAuditVerifySaysWhenNotYetWitnessed: a computer alone says its log
// has not been seen by another yet; once synced, it has.
func TestAuditVerifySaysWhenNotYetWitnessed(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	_ = f
	if _, err := a.AuditVerify(ctx); err != nil {
		t.Fatal(err)
	}
	mustSync(t, b, dir)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	mustSync(t, a, dir)
	if !a.AuditWitnessed(ctx) || !b.AuditWitnessed(ctx) {
		t.Fatal("after syncing both ways, each computer's log is witnessed by the other")
	}
	if _, err := a.AuditVerify(ctx); err != nil {
		t.Fatalf("an untouched log: %v", err)
	}
}

func hasEntry(list []AuditEntry, action string, _ *Vault) bool {
	for _, e := range list {
		if e.Action == action && e.Computer != "" {
			return true
		}
	}
	return false
}

func attention(items []CheckItem, id string) bool {
	for _, it := range items {
		if it.ID == id {
			return it.Status == "attention"
		}
	}
	return false
}
