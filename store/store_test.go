package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

func openTemp(t *testing.T, kind Kind, key []byte) (*DB, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), kind.FileName())
	db, err := Open(context.Background(), p, kind, key)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db, p
}

func TestArgon2idKnownAnswers(t *testing.T) {
	f, err := os.Open("testdata/argon2id.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		n++
		t.Run(strings.Join(fields[:5], "/"), func(t *testing.T) {
			t.Parallel()
			tm, _ := strconv.Atoi(fields[0])
			m, _ := strconv.Atoi(fields[1])
			p, _ := strconv.Atoi(fields[2])
			want, _ := hex.DecodeString(fields[5])
			got := argon2.IDKey([]byte(fields[3]), []byte(fields[4]), uint32(tm), uint32(m), uint8(p), uint32(len(want)))
			if !bytes.Equal(got, want) {
				t.Errorf("got %x, want %x", got, want)
			}
		})
	}
	if n == 0 {
		t.Fatal("no vectors read")
	}
}

func TestDeriveKEKRefusesWeakParams(t *testing.T) {
	weak := KDFParams{Time: 1, MemoryKiB: 64 * 1024, Threads: 4, Salt: make([]byte, 16)}
	if _, err := DeriveKEK("x", weak); !errors.Is(err, ErrWeakKDF) {
		t.Fatalf("t=1: got %v, want ErrWeakKDF", err)
	}
	weak = KDFParams{Time: 3, MemoryKiB: 32 * 1024, Threads: 4, Salt: make([]byte, 16)}
	if _, err := DeriveKEK("x", weak); !errors.Is(err, ErrWeakKDF) {
		t.Fatalf("m=32MiB: got %v, want ErrWeakKDF", err)
	}
	// NFKC: the composed and decomposed forms of "é" derive the same key.
	p := MinKDF.WithNewSalt()
	a, _ := DeriveKEK("caf\u00e9 au lait", p)
	b, _ := DeriveKEK("cafe\u0301 au lait", p)
	if !bytes.Equal(a, b) {
		t.Fatal("NFKC forms derived different keys")
	}
}

func TestCalibrateNeverBelowFloor(t *testing.T) {
	p := CalibrateKDF(time.Millisecond) // a target the floor already exceeds
	if err := p.Check(); err != nil {
		t.Fatalf("calibrated below floor: %v", err)
	}
}

func TestOpenWrongKey(t *testing.T) {
	key := NewKey()
	_, p := openTemp(t, General, key)
	_, err := Open(context.Background(), p, General, NewKey())
	if !errors.Is(err, ErrWrongKey) {
		t.Fatalf("got %v, want ErrWrongKey", err)
	}
	// The right key still opens it: nothing was damaged by the attempt.
	db, err := Open(context.Background(), p, General, key)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	db.Close()
}

func TestOpenChecksApplicationID(t *testing.T) {
	key := NewKey()
	db, p := openTemp(t, General, key)
	db.Close()
	if _, err := Open(context.Background(), p, Clinical, key); !errors.Is(err, ErrForeignDatabase) {
		t.Fatalf("general.db opened as clinical: got %v, want ErrForeignDatabase", err)
	}
}

func TestMigrationsSetVersionAndAreIdempotent(t *testing.T) {
	key := NewKey()
	db, p := openTemp(t, General, key)
	v, err := db.SchemaVersion(context.Background())
	if err != nil || v < 1 {
		t.Fatalf("user_version %d, %v", v, err)
	}
	db.Close()
	db2, err := Open(context.Background(), p, General, key)
	if err != nil {
		t.Fatalf("second open: %v", err)
	}
	defer db2.Close()
	var mode string
	db2.QueryRow("PRAGMA journal_mode").Scan(&mode)
	if mode != "wal" {
		t.Errorf("journal_mode %q, want wal", mode)
	}
}

func TestDatabaseFileHasNoPlaintext(t *testing.T) {
	key := NewKey()
	db, p := openTemp(t, General, key)
	const marker = "Zebediah-Plaintext-Marker"
	if _, err := db.Exec(`INSERT INTO settings (name, value) VALUES ('x', ?)`, marker); err != nil {
		t.Fatal(err)
	}
	db.Close()
	dir := filepath.Dir(p)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if bytes.Contains(b, []byte(marker)) || bytes.Contains(b, []byte("SQLite format 3")) {
			t.Errorf("%s holds plaintext", e.Name())
		}
	}
}

func TestSlotWrapBindsContext(t *testing.T) {
	kek := NewKey()
	s := NewSlotSecrets(bytes.Repeat([]byte{7}, 20))
	box := WrapSlot(kek, "vault", "user", 1, s)
	got, err := UnwrapSlot(kek, "vault", "user", 1, box)
	if err != nil || !bytes.Equal(got.TOTPSecret, s.TOTPSecret) || !bytes.Equal(got.Identity, s.Identity) {
		t.Fatalf("round trip: %v", err)
	}
	for name, try := range map[string]func() error{
		"other user":    func() error { _, err := UnwrapSlot(kek, "vault", "other", 1, box); return err },
		"other vault":   func() error { _, err := UnwrapSlot(kek, "vault2", "user", 1, box); return err },
		"other version": func() error { _, err := UnwrapSlot(kek, "vault", "user", 2, box); return err },
		"other key":     func() error { _, err := UnwrapSlot(NewKey(), "vault", "user", 1, box); return err },
		"flipped bit": func() error {
			b := append([]byte(nil), box...)
			b[len(b)-1] ^= 1
			_, err := UnwrapSlot(kek, "vault", "user", 1, b)
			return err
		},
	} {
		if err := try(); !errors.Is(err, ErrUnwrap) {
			t.Errorf("%s: got %v, want ErrUnwrap", name, err)
		}
	}
}

func TestGrantBindsRoleAndRecipient(t *testing.T) {
	alice, bob := NewSlotSecrets(nil), NewSlotSecrets(nil)
	key := NewKey()
	box, err := SealGrant(alice.PublicKey(), "v", "alice", "clinician", Clinical, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenGrant(alice.Identity, "v", "alice", "clinician", Clinical, box)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("open: %v", err)
	}
	if _, err := OpenGrant(bob.Identity, "v", "alice", "clinician", Clinical, box); !errors.Is(err, ErrUnwrap) {
		t.Errorf("another identity opened the grant: %v", err)
	}
	if _, err := OpenGrant(alice.Identity, "v", "alice", "admin", Clinical, box); !errors.Is(err, ErrUnwrap) {
		t.Errorf("an edited role opened the grant: %v", err)
	}
	if _, err := OpenGrant(alice.Identity, "v", "alice", "clinician", General, box); !errors.Is(err, ErrUnwrap) {
		t.Errorf("a grant opened as another class: %v", err)
	}
}

func TestKeyringRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadKeyring(dir); !errors.Is(err, ErrNoVault) {
		t.Fatalf("empty dir: %v", err)
	}
	k := NewKeyring("vid", "Practice", storeTestNow)
	k.Slots = append(k.Slots, &Slot{UserID: "u1", Name: "Ana Núñez", Role: "admin"})
	if err := SaveKeyring(dir, k); err != nil {
		t.Fatal(err)
	}
	got, err := LoadKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s, err := got.SlotByName("  ana núñez "); err != nil || s.UserID != "u1" {
		t.Fatalf("SlotByName: %v", err)
	}
	if _, err := got.SlotByName("nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing slot: %v", err)
	}
	st, _ := os.Stat(filepath.Join(dir, KeyringFile))
	if st.Mode().Perm() != 0o600 {
		t.Errorf("keyring mode %v, want 0600", st.Mode().Perm())
	}
}

// TestKeyringCrashAtomicity kills a child process in the middle of saving
// the keyring (after the temp file is written, before the rename, and with
// a half-written temp file) and checks that the old keyring survives whole
// and that the next save works.
func TestKeyringCrashAtomicity(t *testing.T) {
	if dir := os.Getenv("CLINICVAULT_CRASH_DIR"); dir != "" {
		mode := os.Getenv("CLINICVAULT_CRASH_MODE")
		crashHook = func(tmp string) error {
			if mode == "truncate" {
				b, _ := os.ReadFile(tmp)
				os.WriteFile(tmp, b[:len(b)/2], 0o600)
			}
			os.Exit(42) // the process dies here: no rename, no cleanup
			return nil
		}
		k, err := LoadKeyring(dir)
		if err != nil {
			os.Exit(1)
		}
		k.Practice = "NEW PRACTICE NAME"
		SaveKeyring(dir, k)
		os.Exit(0) // not reached
	}
	for _, mode := range []string{"before-rename", "truncate"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			old := NewKeyring("vid", "Old Practice", storeTestNow)
			if err := SaveKeyring(dir, old); err != nil {
				t.Fatal(err)
			}
			before, _ := os.ReadFile(filepath.Join(dir, KeyringFile))
			cmd := exec.Command(os.Args[0], "-test.run=^TestKeyringCrashAtomicity$")
			cmd.Env = append(os.Environ(), "CLINICVAULT_CRASH_DIR="+dir, "CLINICVAULT_CRASH_MODE="+mode)
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 42 {
				t.Fatalf("child did not crash where expected: %v", err)
			}
			after, _ := os.ReadFile(filepath.Join(dir, KeyringFile))
			if sha256.Sum256(before) != sha256.Sum256(after) {
				t.Fatal("keyring changed although the write crashed before the rename")
			}
			k, err := LoadKeyring(dir)
			if err != nil || k.Practice != "Old Practice" {
				t.Fatalf("old keyring unreadable after crash: %v", err)
			}
			// The leftover temp file does not get in the way of the next save.
			k.Practice = "Next"
			if err := SaveKeyring(dir, k); err != nil {
				t.Fatal(err)
			}
			if k, err := LoadKeyring(dir); err != nil || k.Practice != "Next" {
				t.Fatalf("save after crash: %v", err)
			}
		})
	}
}

func auditDB(t *testing.T, rows int) *DB {
	t.Helper()
	db, _ := openTemp(t, General, NewKey())
	ctx := context.Background()
	for i := 0; i < rows; i++ {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := AppendAudit(ctx, tx, &AuditEntry{At: storeTestNow, UserID: "u", UserName: "Ana", Action: "signin", Subject: "Ana", Detail: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func TestAuditChainDetectsTampering(t *testing.T) {
	ctx := context.Background()
	unprotect := `DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;`
	cases := map[string]string{
		"edited detail":   `UPDATE audit SET detail = 'nothing to see' WHERE seq = 3`,
		"edited time":     `UPDATE audit SET at = at + 1 WHERE seq = 2`,
		"deleted middle":  `DELETE FROM audit WHERE seq = 3`,
		"deleted newest":  `DELETE FROM audit WHERE seq = 5`,
		"deleted all":     `DELETE FROM audit`,
		"inserted row":    `INSERT INTO audit (seq, at, user_id, user_name, action, subject, detail, prev_hash, hash) SELECT 6, at, user_id, user_name, 'export', subject, detail, hash, hash FROM audit WHERE seq = 5`,
		"reordered rows":  `UPDATE audit SET seq = 10 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; UPDATE audit SET seq = 3 WHERE seq = 10`,
		"rehashed edited": `UPDATE audit SET detail = 'x', hash = prev_hash WHERE seq = 4`,
	}
	for name, attack := range cases {
		t.Run(name, func(t *testing.T) {
			db := auditDB(t, 5)
			if n, err := VerifyAudit(ctx, db); err != nil || n != 5 {
				t.Fatalf("clean chain: n=%d err=%v", n, err)
			}
			if _, err := db.Exec(unprotect + attack); err != nil {
				t.Fatalf("attack: %v", err)
			}
			if _, err := VerifyAudit(ctx, db); !errors.Is(err, ErrAuditTampered) {
				t.Fatalf("got %v, want ErrAuditTampered", err)
			}
		})
	}
}

func TestAuditRowsCannotBeChangedThroughTheApp(t *testing.T) {
	db := auditDB(t, 2)
	if _, err := db.Exec(`UPDATE audit SET detail = 'x' WHERE seq = 1`); err == nil {
		t.Fatal("an audit row was updated")
	}
	if _, err := db.Exec(`DELETE FROM audit WHERE seq = 1`); err == nil {
		t.Fatal("an audit row was deleted")
	}
}

func TestSnapshotIsConsistentAndEncrypted(t *testing.T) {
	ctx := context.Background()
	key := NewKey()
	db, p := openTemp(t, General, key)
	for i := 0; i < 500; i++ {
		db.Exec(`INSERT INTO settings (name, value) VALUES (?, 'Plaintext-Marker-Value')`, strconv.Itoa(i))
	}
	dest := filepath.Join(t.TempDir(), "snap.db")
	calls := 0
	if err := Snapshot(ctx, db, key, dest, func(done, total int) { calls++ }); err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Error("no progress reported")
	}
	b, _ := os.ReadFile(dest)
	if bytes.Contains(b, []byte("Plaintext-Marker")) {
		t.Fatal("snapshot holds plaintext")
	}
	snap, err := Open(ctx, dest, General, key)
	if err != nil {
		t.Fatalf("open snapshot: %v", err)
	}
	defer snap.Close()
	if err := IntegrityCheck(ctx, snap); err != nil {
		t.Fatal(err)
	}
	live, _ := TableCounts(ctx, db)
	got, _ := TableCounts(ctx, snap)
	if live["settings"] != 500 || got["settings"] != 500 {
		t.Fatalf("counts live %v snapshot %v", live, got)
	}
	if _, err := Open(ctx, dest, General, NewKey()); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("snapshot opened with another key: %v", err)
	}
	_ = p
}

// TestAppendAuditsChainsInBulk: entries appended many at a time (more than
// one INSERT's worth) continue the chain exactly as one at a time would,
// and an edit among them is still caught.
func TestAppendAuditsChainsInBulk(t *testing.T) {
	ctx := context.Background()
	db := auditDB(t, 3)
	var es []*AuditEntry
	// The first INSERT's worth share time, author and action (bound once);
	// the rest do not.
	at := storeTestNow
	for i := 0; i < 2*auditBatchRows+7; i++ {
		e := &AuditEntry{At: at, UserID: "u", UserName: "Ana", Action: "patient-created", Subject: strconv.Itoa(i), Detail: "d" + strconv.Itoa(i)}
		if i >= auditBatchRows {
			e.At = at.Add(time.Duration(i) * time.Millisecond)
			if i%2 == 0 {
				e.UserID, e.UserName = "v", "Bo"
			}
		}
		es = append(es, e)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := AppendAudits(ctx, tx, es); err != nil {
		t.Fatal(err)
	}
	if err := AppendAudit(ctx, tx, &AuditEntry{At: storeTestNow, UserID: "u", UserName: "Ana", Action: "signout"}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	want := 3 + len(es) + 1
	if n, err := VerifyAudit(ctx, db); err != nil || n != want {
		t.Fatalf("chain after bulk append: n=%d (want %d) err=%v", n, want, err)
	}
	if es[0].Seq != 4 || es[len(es)-1].Seq != int64(3+len(es)) {
		t.Fatalf("seqs %d..%d", es[0].Seq, es[len(es)-1].Seq)
	}
	stored, err := ListAudit(ctx, db, 0)
	if err != nil {
		t.Fatal(err)
	}
	bySeq := map[int64]AuditEntry{}
	for _, e := range stored {
		bySeq[e.Seq] = e
	}
	for _, e := range es {
		got := bySeq[e.Seq]
		if !got.At.Equal(e.At) || got.UserID != e.UserID || got.UserName != e.UserName || got.Action != e.Action || got.Subject != e.Subject || got.Detail != e.Detail {
			t.Fatalf("entry %d stored as %+v, appended as %+v", e.Seq, got, *e)
		}
	}
	if _, err := db.Exec(`DROP TRIGGER audit_no_update; UPDATE audit SET subject = 'x' WHERE seq = 250`); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyAudit(ctx, db); !errors.Is(err, ErrAuditTampered) {
		t.Fatalf("edit inside a bulk-appended run: %v", err)
	}
}

// TestPageSizes: new files get 16 KiB pages; a file made with the 4 KiB
// pages of earlier versions still opens (with its WAL present or not),
// keeps them, snapshots with them, and still refuses a wrong key.
func TestPageSizes(t *testing.T) {
	ctx := context.Background()
	key := NewKey()
	fresh, _ := openTemp(t, General, key)
	var got int
	if err := fresh.QueryRow("PRAGMA page_size").Scan(&got); err != nil || got != newPageSize || fresh.PageSize != newPageSize {
		t.Fatalf("new file: page_size %d (%v), PageSize %d; want %d", got, err, fresh.PageSize, newPageSize)
	}

	p := filepath.Join(t.TempDir(), General.FileName())
	legacy, err := openKeyed(ctx, p, General, key, legacyPageSize, applicationIDs[General])
	if err != nil {
		t.Fatal(err)
	}
	if err := legacy.migrate(ctx, applicationIDs[General]); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		if _, err := legacy.Exec(`INSERT INTO settings (name, value) VALUES (?, 'v')`, strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	// Open while the first handle keeps the WAL: the WAL header says 4096.
	if _, err := os.Stat(p + "-wal"); err != nil {
		t.Fatalf("expected a WAL while open: %v", err)
	}
	withWAL, err := Open(ctx, p, General, key)
	if err != nil {
		t.Fatalf("open legacy file with its WAL: %v", err)
	}
	if withWAL.PageSize != legacyPageSize {
		t.Fatalf("legacy file with WAL: PageSize %d", withWAL.PageSize)
	}
	withWAL.Close()
	legacy.Close()
	if _, err := os.Stat(p + "-wal"); err == nil {
		t.Fatal("WAL still there after the last close; the next step would not test the no-WAL path")
	}

	if _, err := Open(ctx, p, General, NewKey()); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("legacy file, wrong key: %v", err)
	}
	db, err := Open(ctx, p, General, key)
	if err != nil {
		t.Fatalf("open legacy file without WAL: %v", err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("PRAGMA page_size").Scan(&got); err != nil || got != legacyPageSize || db.PageSize != legacyPageSize {
		t.Fatalf("legacy file: page_size %d (%v), PageSize %d", got, err, db.PageSize)
	}
	if err := db.QueryRow("SELECT count(*) FROM settings WHERE value = 'v'").Scan(&n); err != nil || n != 300 {
		t.Fatalf("legacy rows: %d, %v", n, err)
	}
	if _, err := db.Exec(`INSERT INTO settings (name, value) VALUES ('after', 'v')`); err != nil {
		t.Fatal(err)
	}
	if err := IntegrityCheck(ctx, db); err != nil {
		t.Fatal(err)
	}

	dest := filepath.Join(t.TempDir(), "snap.db")
	if err := Snapshot(ctx, db, key, dest, nil); err != nil {
		t.Fatalf("snapshot of a legacy file: %v", err)
	}
	snap, err := Open(ctx, dest, General, key)
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if snap.PageSize != legacyPageSize {
		t.Fatalf("snapshot PageSize %d", snap.PageSize)
	}
	if err := snap.QueryRow("SELECT count(*) FROM settings WHERE value = 'v'").Scan(&n); err != nil || n != 301 {
		t.Fatalf("snapshot rows: %d, %v", n, err)
	}

	plain, err := OpenUnencrypted(ctx, filepath.Join(t.TempDir(), "plain.db"), General)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.QueryRow("PRAGMA page_size").Scan(&got); err != nil || got != newPageSize || plain.PageSize != newPageSize {
		t.Fatalf("plain file: page_size %d (%v), PageSize %d", got, err, plain.PageSize)
	}
}

// TestSearchIndexMigration: schema 6 rebuilds the search index with one
// prefix index; what a schema-5 vault had indexed is still found, under
// the same docids, and the index passes its integrity check.
func TestSearchIndexMigration(t *testing.T) {
	ctx := context.Background()
	key := NewKey()
	p := filepath.Join(t.TempDir(), General.FileName())
	db, err := openKeyed(ctx, p, General, key, newPageSize, applicationIDs[General])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.migrateTo(ctx, applicationIDs[General], 5); err != nil {
		t.Fatal(err)
	}
	ftsSQL := func() string {
		var q string
		db.QueryRow(`SELECT sql FROM sqlite_master WHERE name = 'patients_fts'`).Scan(&q)
		return q
	}
	if !strings.Contains(ftsSQL(), `prefix="1,2,3"`) {
		t.Fatalf("schema 5 index: %s", ftsSQL())
	}
	for i, row := range [][4]string{
		{"José Núñez", "K7QM2X4P", "442079460001 7946 0001", "19800302"},
		{"Ada Lovelace", "ABCD1234", "", "18151210"},
	} {
		if _, err := db.Exec(`INSERT INTO patients_fts (docid, names, mrn, phone, dob) VALUES (?, ?, ?, ?, ?)`, 10+i, row[0], row[1], row[2], row[3]); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.migrate(ctx, applicationIDs[General]); err != nil {
		t.Fatal(err)
	}
	if q := ftsSQL(); !strings.Contains(q, `prefix="1"`) || strings.Contains(q, "1,2,3") || !strings.Contains(q, "matchinfo=fts3") {
		t.Fatalf("schema 6 index: %s", q)
	}
	var docsize int
	db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = 'patients_fts_docsize'`).Scan(&docsize)
	if docsize != 0 {
		t.Fatal("the index still keeps a per-document size table")
	}
	for query, want := range map[string]int{
		"names:j*": 10, "names:nun*": 10, "names:jose names:nunez": 10, "mrn:k7q*": 10,
		"phone:7946*": 10, "dob:1980*": 10, "names:a*": 11, "names:lovel*": 11, "mrn:abcd1234": 11,
	} {
		var got []int
		rows, err := db.Query(`SELECT docid FROM patients_fts WHERE patients_fts MATCH ?`, query)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var d int
			rows.Scan(&d)
			got = append(got, d)
		}
		rows.Close()
		if len(got) != 1 || got[0] != want {
			t.Errorf("%s: docids %v, want [%d]", query, got, want)
		}
	}
	if _, err := db.Exec(`INSERT INTO patients_fts (patients_fts) VALUES ('integrity-check')`); err != nil {
		t.Fatalf("integrity-check: %v", err)
	}
	var leftovers int
	db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name LIKE 'patients_fts_v6%'`).Scan(&leftovers)
	if leftovers != 0 {
		t.Fatalf("%d tables of the new index kept their temporary name", leftovers)
	}
}

// TestConnectionSettings: every pooled connection syncs each commit
// (synchronous FULL = 2) and keeps temporary data in memory (2).
func TestConnectionSettings(t *testing.T) {
	ctx := context.Background()
	db, _ := openTemp(t, General, NewKey())
	var conns []*sql.Conn
	for i := 0; i < 3; i++ {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	for i, c := range conns {
		var syncMode, tempStore int
		if err := c.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil || syncMode != 2 {
			t.Errorf("connection %d: synchronous %d %v, want 2 (FULL)", i, syncMode, err)
		}
		if err := c.QueryRowContext(ctx, "PRAGMA temp_store").Scan(&tempStore); err != nil || tempStore != 2 {
			t.Errorf("connection %d: temp_store %d %v, want 2 (MEMORY)", i, tempStore, err)
		}
	}
}

// storeTestNow is the tests' fixed time: no test depends on the date it runs.
var storeTestNow = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
