package app

// Review 5: an insider against the witnessed audit trail (invariant 5),
// restrictions that follow the data (invariant 7) and sign-in.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// openDeskGeneral opens a computer's general.db with the general key, as
// anyone who signs in there can.
func openDeskGeneral(t *testing.T, dataDir string, kGen []byte) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(dataDir, store.General.FileName()), store.General, kGen)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// dropAuditAction rewrites the desk's log from seq from on without the
// entries of action, rebuilding the chain (it is an unkeyed hash) and
// adding filler sign-outs so that the log is no shorter than before.
func dropAuditAction(t *testing.T, db *store.DB, from int64, action string) {
	t.Helper()
	ctx := context.Background()
	old, err := store.AuditRange(ctx, db, from, 1<<62)
	if err != nil || len(old) == 0 {
		t.Fatalf("nothing to rewrite: %v", err)
	}
	var keep []*store.AuditEntry
	for _, e := range old {
		if e.Action == action {
			continue
		}
		keep = append(keep, &store.AuditEntry{At: e.At, UserID: e.UserID, UserName: e.UserName, Action: e.Action, Subject: e.Subject, Detail: e.Detail})
	}
	last := old[len(old)-1]
	for len(keep) < len(old)+2 {
		keep = append(keep, &store.AuditEntry{At: last.At, UserID: last.UserID, UserName: last.UserName, Action: "sign-out"})
	}
	for _, q := range []string{
		`DROP TRIGGER audit_no_delete`,
		`DELETE FROM audit WHERE seq >= ` + itoa(from),
		`UPDATE sqlite_sequence SET seq = ` + itoa(from-1) + ` WHERE name = 'audit'`,
		`CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.AppendAudits(ctx, tx, keep); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := store.VerifyAudit(ctx, db); err != nil {
		t.Fatalf("the rewritten chain does not verify on its own: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// noticed reports what each computer's admin is told about audit logs
// after a few passes both ways.
func noticed(t *testing.T, f *fixture, dir string, desk *Vault, b *Session) (deskErr, laptopErr error, deskItem, laptopItem bool, reps []string) {
	t.Helper()
	ctx := context.Background()
	m := signInOn(t, f, desk, "Maria Admin", adminPass)
	defer m.Lock(ctx)
	for i := 0; i < 3; i++ {
		f.clk.Advance(time.Minute)
		r := mustSync(t, m, dir)
		if len(r.Problems) > 0 {
			reps = append(reps, r.ProblemText())
		}
		f.clk.Advance(time.Minute)
		r = mustSync(t, b, dir)
		if len(r.Problems) > 0 {
			reps = append(reps, r.ProblemText())
		}
	}
	_, deskErr = m.AuditVerify(ctx)
	_, laptopErr = b.AuditVerify(ctx)
	di, _ := m.SecurityReport(ctx)
	li, _ := b.SecurityReport(ctx)
	return deskErr, laptopErr, attention(di, "audit-witnessed"), attention(li, "audit-witnessed"), reps
}

// TestAttackReview5RewritesWitnessedEntriesAndStopsPublishing: Rita's
// plaintext export at the desk reached the laptop. With the general key
// she rewrites the desk's log without it (the chain is an unkeyed hash, so
// it verifies), makes the log a little longer, sets the desk's
// "published up to" marker far ahead so the desk never publishes a
// stretch that would contradict what the laptop holds, and points the
// desk's own record of the laptop's witness at her new head. The desk's
// witness file now names a head the laptop does not hold (so it compares
// nothing), the laptop's witness of the desk never moves past her
// planted row: no computer notices, and nothing the desk does from now on
// is ever witnessed.
func TestAttackReview5RewritesWitnessedEntriesAndStopsPublishing(t *testing.T) {
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
	mustSync(t, rita, dir)
	rita.Lock(ctx)
	if list, err := b.AuditList(ctx, 0); err != nil || !hasEntry(list, "export", a.v) {
		t.Fatalf("the laptop never saw the export: %v", err)
	}

	kr, _ := store.LoadKeyring(a.v.Dir)
	in := unwrapInsider(t, kr, "Rita Front", recPass)
	db := openDeskGeneral(t, a.v.Dir, in.kGen)
	dropAuditAction(t, db, exportSeq, "export")
	for _, q := range []string{
		`UPDATE settings SET value = '999999999999' WHERE name = 'audit_published'`,
		`UPDATE audit_witness SET seq = (SELECT max(seq) FROM audit), hash = (SELECT hash FROM audit ORDER BY seq DESC LIMIT 1) WHERE device = '` + a.DeviceID() + `'`,
		`DELETE FROM audit_problems`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	db.Close()

	deskErr, laptopErr, deskItem, laptopItem, reps := noticed(t, f, dir, a.v, b)
	var n int
	a2 := openDeskGeneral(t, a.v.Dir, in.kGen)
	a2.QueryRow(`SELECT count(*) FROM audit WHERE action = 'export'`).Scan(&n)
	a2.Close()
	if n != 0 {
		t.Fatalf("the attack did not remove the export entry from the desk's log")
	}
	if deskErr == nil && laptopErr == nil && !deskItem && !laptopItem && len(reps) == 0 {
		t.Fatal("the desk's log was rewritten after the laptop saw it (the export entry is gone) and no computer notices: audit verify is clean on both, the Security Center says nothing, no sync pass reports a problem")
	}
}

// TestAttackReview5PlantedFileSilentlyStallsWitnessing: with write access
// to the shared folder only, Rita drops one file that does not open into
// audit/<desk>/. Every other computer stops at it ("a later pass") and
// never reads another entry of the desk's log, and says nothing. She then
// exports the practice, and later (after several passes, when the export
// was published) deletes the entry with the general key and the desk's
// published files from it on. No computer notices: the laptop's witness
// of the desk is stuck before the export, which the desk's log still
// matches.
func TestAttackReview5PlantedFileSilentlyStallsWitnessing(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	mustSync(t, a, dir)
	a.Lock(ctx)

	// The plant: a file named as the start of the desk's log.
	plant := filepath.Join(dir, "audit", a.DeviceID(), "0000000000000001-0000000000000001.x")
	if err := os.WriteFile(plant, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}

	rita := signInOn(t, f, a.v, "Rita Front", recPass)
	var out bytes.Buffer
	if _, err := rita.Export(ctx, &out, ExportOptions{Format: FormatCSV, Passphrase: "harbour lantern quiet orchard"}); err != nil {
		t.Fatal(err)
	}
	var exportSeq int64
	rita.general.QueryRow(`SELECT max(seq) FROM audit WHERE action = 'export'`).Scan(&exportSeq)
	for i := 0; i < 2; i++ {
		f.clk.Advance(time.Minute)
		mustSync(t, rita, dir)
		f.clk.Advance(time.Minute)
		mustSync(t, b, dir)
	}
	rita.Lock(ctx)
	// The export was published (the desk did its part).
	names, _ := os.ReadDir(filepath.Join(dir, "audit", a.DeviceID()))
	published := false
	for _, n := range names {
		if from, to, ok := auditNameRange(n.Name()); ok && exportSeq <= to && !strings.HasSuffix(n.Name(), ".x") {
			published = published || from <= exportSeq
			os.Remove(filepath.Join(dir, "audit", a.DeviceID(), n.Name())) // and now the folder forgets it
		}
	}
	if !published {
		t.Fatal("the desk never published the export's entry")
	}

	kr, _ := store.LoadKeyring(a.v.Dir)
	in := unwrapInsider(t, kr, "Rita Front", recPass)
	deleteAuditTail(t, a.v.Dir, in.kGen, exportSeq)

	deskErr, laptopErr, deskItem, laptopItem, reps := noticed(t, f, dir, a.v, b)
	list, _ := b.AuditList(ctx, 0)
	if !hasEntry(list, "export", a.v) {
		t.Log("the laptop never took the export entry: it stopped at the planted file")
	}
	if deskErr == nil && laptopErr == nil && !deskItem && !laptopItem && len(reps) == 0 {
		t.Fatal("one unopenable file in audit/<desk>/ stopped the laptop from taking the desk's entries, silently: the export was published, then deleted, and no computer notices (verify clean, Security Center quiet, no sync problem)")
	}
}

// TestAttackReview5ForgedWitnessAccusesTheLaptop: with the general key,
// Rita adds to the desk's audit_remote a head of the laptop's log that
// the laptop never wrote (a higher number). The desk's next pass
// publishes it as its witness; the laptop takes a witness's word for
// what its own log held, and from then on tells its admin that its own
// honest log was truncated (entries "the desk saw" were deleted), for
// good: the row only ever moves up.
func TestAttackReview5ForgedWitnessAccusesTheLaptop(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	if _, err := b.AuditVerify(ctx); err != nil {
		t.Fatalf("the laptop's log before the attack: %v", err)
	}
	a.Lock(ctx)

	kr, _ := store.LoadKeyring(a.v.Dir)
	in := unwrapInsider(t, kr, "Rita Front", recPass)
	db := openDeskGeneral(t, a.v.Dir, in.kGen)
	var have int64
	db.QueryRow(`SELECT coalesce(max(seq), 0) FROM audit_remote WHERE device = ?`, b.DeviceID()).Scan(&have)
	if have == 0 {
		t.Fatal("the desk holds nothing of the laptop's log")
	}
	if _, err := db.Exec(`INSERT INTO audit_remote (device, seq, at, user_id, user_name, action, subject, detail, prev_hash, hash)
		VALUES (?, ?, 0, '', '', 'sign-in', '', '', x'00', randomblob(32))`, b.DeviceID(), have+40); err != nil {
		t.Fatal(err)
	}
	db.Close()

	rita := signInOn(t, f, a.v, "Rita Front", recPass)
	mustSync(t, rita, dir)
	rita.Lock(ctx)
	f.clk.Advance(time.Minute)
	mustSync(t, b, dir)

	_, err := b.AuditVerify(ctx)
	var w *AuditWitnessError
	if errors.As(err, &w) {
		for _, p := range w.Problems {
			if p.This {
				t.Fatalf("the laptop's honest log is accused on the desk's word alone (a witness row Rita wrote): %q", p.String())
			}
		}
	}
	if items, _ := b.SecurityReport(ctx); attention(items, "audit-witnessed") {
		t.Fatalf("the laptop's Security Center accuses its honest log on a forged witness: %v", err)
	}
}

// TestAttackReview5UnnamedClinicianMovesTheRestrictionAway: Dr Lee, not
// named on the restricted chart, writes (in the desk's log, her keys and
// the desk's device key) a change of the restriction row's patient_id: to
// a decoy chart nobody restricted, or to nothing. judgeRestrictions
// checks the patient the record names (the new value), not the chart the
// row restricts now, so the laptop applies it; the chart is no longer
// restricted there and Dr Lee reads it with no emergency access recorded.
func TestAttackReview5UnnamedClinicianMovesTheRestrictionAway(t *testing.T) {
	for _, variant := range []string{"to a decoy", "to nobody"} {
		t.Run(variant, func(t *testing.T) {
			f, dir, a, b := twoMachines(t)
			ctx := context.Background()
			omar, lee, p := restrictedChart(t, f, a, dir)
			decoy, _, err := a.AddPatient(ctx, Patient{Given: "Dee", Family: "Coy", DOB: "1990-01-01"})
			if err != nil {
				t.Fatal(err)
			}
			mustSync(t, a, dir)
			omar.Lock(ctx)
			lee.Lock(ctx)
			mustSync(t, b, dir)
			var rid string
			a.general.QueryRow(`SELECT id FROM chart_restrictions WHERE archived = 0 AND patient_id = ?`, p.ID).Scan(&rid)
			if rid == "" {
				t.Fatal("no restriction row")
			}
			forgeAs(t, f, a, dir, "Dr Mei Lee", "juniper kettle orbit canvas", func(me, hlc string) []cvsync.Record {
				target := decoy.ID
				if variant == "to nobody" {
					target = ""
				}
				return []cvsync.Record{{HLC: hlc, Table: "chart_restrictions", RowID: rid, Columns: map[string]*string{"patient_id": &target}}}
			})
			f.clk.Advance(2 * time.Minute)
			rep, err := b.Sync(ctx, dir)
			if err != nil {
				t.Fatal(err)
			}
			b.Lock(ctx)
			leeOnLaptop := signInOn(t, f, b.v, "Dr Mei Lee", "juniper kettle orbit canvas")
			defer leeOnLaptop.Lock(ctx)
			mustSync(t, leeOnLaptop, dir)
			c, err := leeOnLaptop.OpenChart(ctx, p.MRN)
			if err == nil {
				var n int
				leeOnLaptop.general.QueryRow(`SELECT count(*) FROM emergency_access WHERE patient_id = ?`, p.ID).Scan(&n)
				t.Fatalf("Dr Lee, not named on the restriction, moved its row %s through sync (laptop: applied %d, halted %d, %q) and reads the chart on the laptop (%d encounters), with %d emergency accesses recorded",
					variant, rep.Applied, rep.Halted, rep.Problems, len(c.Encounters), n)
			}
			if !errors.Is(err, ErrRestricted) {
				t.Fatalf("opening the chart: %v", err)
			}
		})
	}
}

// TestAttackReview5ClinicianRetargetsAReviewedEmergencyAccess: Dr Lee once
// used emergency access to another restricted chart; the admin reviewed
// it. Two days later she writes (in the desk's log) a change of that
// reviewed row: patient_id the chart she wants, at now. mayWrite lets a
// clinician write any emergency_access column but user_id and the review,
// so the laptop applies it: Dr Lee opens the restricted chart there with
// no new emergency access recorded and nothing awaiting review (the row
// says the admin already reviewed it).
func TestAttackReview5ClinicianRetargetsAReviewedEmergencyAccess(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	omar, lee, p := restrictedChart(t, f, a, dir)
	q, _, err := a.AddPatient(ctx, Patient{Given: "Other", Family: "Private", DOB: "1955-05-05"})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, omar, dir)
	if err := omar.RestrictChart(ctx, q.MRN, nil); err != nil {
		t.Fatal(err)
	}
	mustSync(t, omar, dir)
	omar.Lock(ctx)
	mustSync(t, lee, dir)
	if _, err := lee.OpenChartEmergency(ctx, q.MRN, "patient collapsed in the waiting room"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, lee, dir)
	lee.Lock(ctx)
	mustSync(t, a, dir)
	var eid string
	a.general.QueryRow(`SELECT id FROM emergency_access`).Scan(&eid)
	if err := a.ReviewEmergencyAccess(ctx, eid, "justified"); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)

	f.clk.Advance(48 * time.Hour)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	forgeAs(t, f, a, dir, "Dr Mei Lee", "juniper kettle orbit canvas", func(me, hlc string) []cvsync.Record {
		pid, now := p.ID, strconv.FormatInt(f.clk.Now().Unix(), 10)
		return []cvsync.Record{{HLC: hlc, Table: "emergency_access", RowID: eid, Columns: map[string]*string{"patient_id": &pid, "at": &now}}}
	})
	f.clk.Advance(2 * time.Minute)
	rep, err := b.Sync(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	pending, _ := b.EmergencyAccesses(ctx, true)
	b.Lock(ctx)
	leeOnLaptop := signInOn(t, f, b.v, "Dr Mei Lee", "juniper kettle orbit canvas")
	defer leeOnLaptop.Lock(ctx)
	mustSync(t, leeOnLaptop, dir)
	c, err := leeOnLaptop.OpenChart(ctx, p.MRN)
	if err == nil {
		t.Fatalf("Dr Lee moved an emergency access the admin had reviewed (for another chart, two days ago) onto the restricted chart through sync (laptop: applied %d, halted %d, %q) and reads it there (%d encounters); %d accesses await review",
			rep.Applied, rep.Halted, rep.Problems, len(c.Encounters), len(pending))
	}
	if !errors.Is(err, ErrRestricted) {
		t.Fatalf("opening the chart: %v", err)
	}
}

// TestAttackReview5RevokedLaptopWritesAuditEntriesInItsName: Rita keeps a
// copy of the laptop's data folder; the laptop is then revoked (retired,
// or lost). On her copy she adds to its audit log an entry in the
// admin's name (the chain is an unkeyed hash, her general key opens the
// copy), signs in there and syncs: the copy publishes audit files signed
// by the revoked laptop's key and by her, under the old epoch's key.
// openAudit never looks at the device's revocation (nor the epoch's), so
// the desk takes them and its audit list shows "Maria Admin exported the
// practice" on the laptop, after the laptop was revoked.
func TestAttackReview5RevokedLaptopWritesAuditEntriesInItsName(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	mustSync(t, a, dir)
	laptop := b.v
	laptopID := b.DeviceID()
	b.Lock(ctx)
	stolen := filepath.Join(t.TempDir(), "copy")
	copyDir(t, laptop.Dir, stolen)

	f.clk.Advance(time.Minute)
	if err := a.RevokeDevice(ctx, dir, laptopID); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	var revokedAt int64
	a.general.QueryRow(`SELECT coalesce(revoked_at, 0) FROM devices WHERE id = ?`, laptopID).Scan(&revokedAt)
	if revokedAt == 0 {
		t.Fatal("the laptop is not revoked at the desk")
	}

	kr, _ := store.LoadKeyring(stolen)
	in := unwrapInsider(t, kr, "Rita Front", recPass)
	db := openDeskGeneral(t, stolen, in.kGen)
	var adminID string
	db.QueryRow(`SELECT id FROM users WHERE name = 'Maria Admin'`).Scan(&adminID)
	tx, _ := db.BeginTx(ctx, nil)
	if err := store.AppendAudits(ctx, tx, []*store.AuditEntry{{At: f.clk.Now(), UserID: adminID, UserName: "Maria Admin", Action: "export", Subject: "all patients", Detail: "plaintext CSV to a USB stick"}}); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	db.Close()

	cv := NewVault(stolen)
	cv.Now = f.clk.Now
	cv.UseMinimumKDF()
	rita := signInOn(t, f, cv, "Rita Front", recPass)
	rita.Sync(ctx, dir)
	rita.Lock(ctx)

	f.clk.Advance(time.Minute)
	if _, err := a.Sync(ctx, dir); err != nil {
		t.Fatal(err)
	}
	list, err := a.AuditList(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range list {
		if e.Action == "export" && e.UserName == "Maria Admin" && e.Computer != "" {
			t.Fatalf("after the laptop was revoked, an entry written on a copy of it is in the desk's audit list as the laptop's (%q): %s %s %q %q at %v",
				e.Computer, e.UserName, e.Action, e.Subject, e.Detail, e.At)
		}
	}
}
