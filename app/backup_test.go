package app

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// dump renders every table of db canonically; audit rows above maxAudit
// (when > 0) are left out.
func dump(t *testing.T, db *store.DB, maxAudit int64) string {
	t.Helper()
	ctx := context.Background()
	counts, err := store.TableCounts(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		q := fmt.Sprintf(`SELECT * FROM %q ORDER BY rowid`, n)
		if n == "audit" && maxAudit > 0 {
			q = fmt.Sprintf(`SELECT * FROM audit WHERE seq <= %d ORDER BY seq`, maxAudit)
		}
		switch n {
		case "backups": // the log of backups is written after the snapshot
			continue
		case "device_keys", "sync_sent", "sync_received", "sync_peers": // a restore is a new device
			continue
		case "settings":
			q = `SELECT * FROM settings WHERE name NOT IN ('device_id', 'sync_folder') ORDER BY rowid`
		}
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		fmt.Fprintf(&b, "== %s %v\n", n, cols)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			rows.Scan(ptrs...)
			fmt.Fprintf(&b, "%#v\n", vals)
		}
		rows.Close()
	}
	return b.String()
}

func fileHash(t *testing.T, paths ...string) [32]byte {
	h := sha256.New()
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		h.Write(b)
	}
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

type backupFixture struct {
	*fixture
	admin *Session
	dir   string
}

func newBackupFixture(t *testing.T) *backupFixture {
	f := newFixture(t)
	admin := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(admin, "Rita Front", Receptionist, recPass)
	f.addUser(admin, "Dr Omar Haddad", Clinician, docPass)
	// Some clinical content, so the clinical snapshot is not empty.
	for i := 0; i < 50; i++ {
		if _, err := admin.clinical.Exec(`INSERT INTO meta (name, value) VALUES (?, ?)`, fmt.Sprint("k", i), strings.Repeat("note ", 40)); err != nil {
			t.Fatal(err)
		}
	}
	return &backupFixture{fixture: f, admin: admin, dir: filepath.Join(t.TempDir(), "backups")}
}

func TestBackupRoundTripWithRecoveryKey(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	var maxAudit int64
	f.admin.general.QueryRow(`SELECT max(seq) FROM audit`).Scan(&maxAudit)
	wantGen := dump(t, f.admin.general, maxAudit)
	wantClin := dump(t, f.admin.clinical, 0)

	var stages []string
	info, err := f.admin.CreateBackup(ctx, f.dir, func(p BackupProgress) { stages = append(stages, p.Stage) })
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) == 0 {
		t.Error("no progress reported")
	}
	if !strings.HasSuffix(info.Path, BackupExt) || info.ClinicalSealed {
		t.Fatalf("info %+v", info)
	}
	// The backup holds no plaintext: not the practice data, not the names in the databases.
	raw, _ := os.ReadFile(info.Path)
	if bytes.Contains(raw, []byte("note note")) || bytes.Contains(raw, []byte("SQLite format 3")) {
		t.Fatal("plaintext in the backup file")
	}
	// Nothing else was left in the backup folder.
	entries, _ := os.ReadDir(f.dir)
	if len(entries) != 1 {
		t.Fatalf("backup folder holds %d entries", len(entries))
	}
	report, err := f.admin.VerifyBackup(ctx, info.Path, nil)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if len(report.Tables) == 0 {
		t.Fatal("verify checked no table")
	}

	to := filepath.Join(t.TempDir(), "restored")
	v2 := NewVault(to)
	v2.Now = f.clk.Now
	if err := v2.RestoreBackupWithRecoveryKey(ctx, info.Path, f.recovery, nil); err != nil {
		t.Fatalf("restore: %v", err)
	}
	// Compare table by table, through the restored vault's own sign-in.
	kr, _ := store.LoadKeyring(to)
	raw2, _ := ParseRecoveryKey(f.recovery)
	kek, _ := store.RecoveryKEK(raw2, kr.VaultID)
	sec, err := store.UnwrapSlot(kek, kr.VaultID, kr.Recovery.UserID, kr.Recovery.Version, kr.Recovery.Wrapped)
	if err != nil {
		t.Fatal(err)
	}
	kGen, _ := store.OpenGrant(sec.Identity, kr.VaultID, "recovery", "admin", store.General, kr.Recovery.Grants[store.General])
	kClin, _ := store.OpenGrant(sec.Identity, kr.VaultID, "recovery", "admin", store.Clinical, kr.Recovery.Grants[store.Clinical])
	gen, err := store.Open(ctx, filepath.Join(to, "general.db"), store.General, kGen)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	clin, err := store.Open(ctx, filepath.Join(to, "clinical.db"), store.Clinical, kClin)
	if err != nil {
		t.Fatal(err)
	}
	defer clin.Close()
	if got := dump(t, gen, maxAudit); got != wantGen {
		t.Fatalf("general.db differs after restore:\n%s\nwant\n%s", got, wantGen)
	}
	if got := dump(t, clin, 0); got != wantClin {
		t.Fatal("clinical.db differs after restore")
	}
	var devs int
	gen.QueryRow(`SELECT count(*) FROM device_keys`).Scan(&devs)
	if devs != 0 {
		t.Fatal("the restored vault kept the original machine's device keys")
	}
	// Staff sign in on the restored vault with their own passphrases.
	f.clk.Advance(time.Minute)
	s, err := v2.SignIn(ctx, "Dr Omar Haddad", docPass, f.codeFor(f.secrets["Dr Omar Haddad"]))
	if err != nil {
		t.Fatalf("sign in on restored vault: %v", err)
	}
	s.Lock(ctx)
}

func TestRestoreWithAdminSignIn(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	info, err := f.admin.CreateBackup(ctx, f.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	to := filepath.Join(t.TempDir(), "restored")
	v2 := NewVault(to)
	v2.Now = f.clk.Now
	// A receptionist cannot restore: nothing stays behind.
	f.clk.Advance(time.Minute)
	err = v2.RestoreBackup(ctx, info.Path, "Rita Front", recPass, f.codeFor(f.secrets["Rita Front"]), nil)
	if !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("receptionist restore: %v", err)
	}
	if entries, _ := os.ReadDir(to); len(entries) != 0 {
		t.Fatalf("a refused restore left %d files", len(entries))
	}
	// A wrong code: refused, nothing left.
	f.clk.Advance(time.Minute)
	if err := v2.RestoreBackup(ctx, info.Path, "Maria Admin", adminPass, "000000", nil); !errors.Is(err, ErrSignInRefused) {
		t.Fatalf("wrong code: %v", err)
	}
	if entries, _ := os.ReadDir(to); len(entries) != 0 {
		t.Fatal("a refused restore left files")
	}
	f.clk.Advance(time.Minute)
	if err := v2.RestoreBackup(ctx, info.Path, "Maria Admin", adminPass, f.codeFor(f.secrets["Maria Admin"]), nil); err != nil {
		t.Fatalf("admin restore: %v", err)
	}
	// Never over a vault.
	if err := v2.RestoreBackup(ctx, info.Path, "Maria Admin", adminPass, "x", nil); !errors.Is(err, ErrBackupTarget) {
		t.Fatalf("restore over a vault: %v", err)
	}
	if err := NewVault(f.v.Dir).RestoreBackupWithRecoveryKey(ctx, info.Path, f.recovery, nil); !errors.Is(err, ErrBackupTarget) {
		t.Fatalf("restore over the live vault: %v", err)
	}
}

func TestReceptionistBackupCarriesSealedClinical(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	rita := f.mustSignIn("Rita Front", recPass)
	info, err := rita.CreateBackup(ctx, f.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !info.ClinicalSealed {
		t.Fatal("receptionist backup not marked sealed")
	}
	if _, err := rita.VerifyBackup(ctx, info.Path, nil); err != nil {
		t.Fatalf("receptionist verify: %v", err)
	}
	to := filepath.Join(t.TempDir(), "restored")
	v2 := NewVault(to)
	v2.Now = f.clk.Now
	if err := v2.RestoreBackupWithRecoveryKey(ctx, info.Path, f.recovery, nil); err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(time.Minute)
	s, err := v2.SignIn(ctx, "Dr Omar Haddad", docPass, f.codeFor(f.secrets["Dr Omar Haddad"]))
	if err != nil {
		t.Fatalf("clinician on restored vault: %v", err)
	}
	defer s.Lock(ctx)
	var n int
	if err := s.clinical.QueryRow(`SELECT count(*) FROM meta`).Scan(&n); err != nil || n != 50 {
		t.Fatalf("clinical rows after restore: %d %v", n, err)
	}
}

func TestCorruptBackupsAreRefusedAndChangeNothing(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	info, err := f.admin.CreateBackup(ctx, f.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(info.Path)
	// A backup of another vault.
	other := newBackupFixture(t)
	otherInfo, err := other.admin.CreateBackup(ctx, other.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := os.ReadFile(otherInfo.Path)
	h, _ := readHeader(info.Path)
	headerEnd := len("CVBACKUP") + 5 + len(mustJSONLen(t, info.Path))
	_ = h
	cases := map[string][]byte{
		"empty file":            {},
		"not a backup":          []byte("%PDF-1.4 this is a letter, not a backup"),
		"truncated in header":   good[:20],
		"truncated in a chunk":  good[:headerEnd+100],
		"truncated at the end":  good[:len(good)-1],
		"last chunk dropped":    dropLastChunk(t, good, headerEnd),
		"bit flipped in header": flip(good, headerEnd-5),
		"bit flipped in data":   flip(good, headerEnd+5000),
		"bit flipped at end":    flip(good, len(good)-3),
		"extra bytes appended":  append(append([]byte{}, good...), 0, 1, 2, 3),
		"another vault":         foreign,
	}
	liveFiles := []string{filepath.Join(f.v.Dir, store.KeyringFile), filepath.Join(f.v.Dir, "general.db"), filepath.Join(f.v.Dir, "clinical.db")}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad"+BackupExt)
			os.WriteFile(p, content, 0o600)
			before := fileHash(t, liveFiles[0])
			_, err := f.admin.VerifyBackup(ctx, p, nil)
			if err == nil {
				t.Fatal("verify accepted it")
			}
			if !errors.Is(err, store.ErrBackupDamaged) && !errors.Is(err, store.ErrNotBackup) {
				t.Fatalf("verify error %v is not a backup error", err)
			}
			to := filepath.Join(t.TempDir(), "restored")
			v2 := NewVault(to)
			v2.Now = f.clk.Now
			if err := v2.RestoreBackupWithRecoveryKey(ctx, p, f.recovery, nil); err == nil {
				t.Fatal("restore accepted it")
			}
			if entries, _ := os.ReadDir(to); len(entries) != 0 {
				t.Fatalf("a failed restore left %d files", len(entries))
			}
			if fileHash(t, liveFiles[0]) != before {
				t.Fatal("the live keyring changed")
			}
		})
	}
	// A wrong key: the other vault's admin passphrase against this backup.
	to := filepath.Join(t.TempDir(), "wrongkey")
	v2 := NewVault(to)
	v2.Now = f.clk.Now
	_, wrongRecovery := newRecoveryKey()
	if err := v2.RestoreBackupWithRecoveryKey(ctx, info.Path, wrongRecovery, nil); !errors.Is(err, ErrBadRecoveryKey) {
		t.Fatalf("wrong recovery key: %v", err)
	}
	if err := v2.RestoreBackup(ctx, info.Path, "Maria Admin", "not maria's passphrase at all", "123456", nil); !errors.Is(err, ErrSignInRefused) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if entries, _ := os.ReadDir(to); len(entries) != 0 {
		t.Fatal("wrong-key restore left files")
	}
	// The live vault still works.
	f.admin.Lock(ctx)
	f.mustSignIn("Maria Admin", adminPass)
}

func mustJSONLen(t *testing.T, path string) []byte {
	b, _ := os.ReadFile(path)
	n := int(b[9])<<24 | int(b[10])<<16 | int(b[11])<<8 | int(b[12])
	return b[13 : 13+n]
}

func flip(b []byte, i int) []byte {
	out := append([]byte{}, b...)
	out[i] ^= 0x10
	return out
}

func dropLastChunk(t *testing.T, b []byte, start int) []byte {
	off, last := start, start
	for off < len(b) {
		n := int(b[off])<<24 | int(b[off+1])<<16 | int(b[off+2])<<8 | int(b[off+3])
		last = off
		off += 4 + n
	}
	if last == start {
		t.Skip("backup has a single chunk")
	}
	return b[:last]
}

// failingWriter fails with ENOSPC after limit bytes, like a full disk.
type failingWriter struct {
	f     *os.File
	limit int
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.limit {
		n, _ := w.f.Write(p[:w.limit])
		w.limit = 0
		return n, &os.PathError{Op: "write", Path: w.f.Name(), Err: syscall.ENOSPC}
	}
	w.limit -= len(p)
	return w.f.Write(p)
}
func (w *failingWriter) Close() error { return w.f.Close() }

func TestFullDiskKeepsOlderBackupsAndLeavesNoPartialFile(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	older, err := f.admin.CreateBackup(ctx, f.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	olderHash := fileHash(t, older.Path)
	f.clk.Advance(time.Hour)
	f.v.createFile = func(path string) (io.WriteCloser, error) {
		file, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		return &failingWriter{f: file, limit: 64 << 10}, err
	}
	_, err = f.admin.CreateBackup(ctx, f.dir, nil)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v, want ENOSPC", err)
	}
	entries, _ := os.ReadDir(f.dir)
	if len(entries) != 1 || filepath.Join(f.dir, entries[0].Name()) != older.Path {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("backup folder after a full disk: %v", names)
	}
	if fileHash(t, older.Path) != olderHash {
		t.Fatal("the older backup changed")
	}
}

// writeFakeBackup writes a header-only backup created at t.
func writeFakeBackup(t *testing.T, dir, vaultID string, at time.Time) string {
	p := filepath.Join(dir, fmt.Sprintf("clinicvault-test-%s%s", at.UTC().Format("20060102-150405"), BackupExt))
	file, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(file)
	cw, err := store.NewBackupWriter(w, store.NewKey(), &store.BackupHeader{VaultID: vaultID, Created: at, Keyring: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	cw.Close()
	w.Flush()
	file.Close()
	return p
}

func TestRetentionPruning(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.Local)
	// One backup a day for 400 days, plus a second one today, plus another
	// vault's backups that must never be touched.
	for d := 0; d < 400; d++ {
		writeFakeBackup(t, dir, "vault-a", now.AddDate(0, 0, -d))
	}
	writeFakeBackup(t, dir, "vault-a", now.Add(-2*time.Hour))
	for d := 0; d < 30; d++ {
		writeFakeBackup(t, dir, "vault-b", now.AddDate(0, 0, -d).Add(time.Minute))
	}
	if _, err := PruneBackups(dir, "vault-a", now); err != nil {
		t.Fatal(err)
	}
	list, _ := ListBackups(dir)
	var a []time.Time
	b := 0
	for _, x := range list {
		if x.VaultID == "vault-a" {
			a = append(a, x.Created)
		} else {
			b++
		}
	}
	if b != 30 {
		t.Fatalf("another vault's backups were pruned: %d left", b)
	}
	// The newest of each of the last 7 days.
	for d := 0; d < 7; d++ {
		want := now.AddDate(0, 0, -d)
		found := false
		for _, c := range a {
			if c.Equal(want) {
				found = true
			}
		}
		if !found {
			t.Errorf("day -%d not kept", d)
		}
	}
	if !a[0].Equal(now) {
		t.Errorf("newest kept is %v", a[0])
	}
	months := map[string]bool{}
	for _, c := range a {
		months[c.Format("2006-01")] = true
	}
	if len(months) != 12 {
		t.Errorf("%d months kept, want 12", len(months))
	}
	if len(a) > keepDaily+keepWeekly+keepMonthly || len(a) < 12 {
		t.Errorf("kept %d backups", len(a))
	}
	// Pruning again changes nothing.
	removed, _ := PruneBackups(dir, "vault-a", now)
	if len(removed) != 0 {
		t.Errorf("second prune removed %d", len(removed))
	}
}

func TestScheduledBackup(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	st, _ := f.admin.BackupStatus(ctx)
	if st.Due || st.Warning == "" {
		t.Fatalf("no folder yet: %+v", st)
	}
	rita := f.mustSignIn("Rita Front", recPass)
	if err := rita.SetBackupFolder(ctx, f.dir); !errors.Is(err, ErrNotPermitted) {
		t.Fatalf("receptionist set the folder: %v", err)
	}
	if err := f.admin.SetBackupFolder(ctx, filepath.Join(f.v.Dir, "inside")); !errors.Is(err, ErrUsage) {
		t.Fatalf("folder inside the vault accepted: %v", err)
	}
	if err := f.admin.SetBackupFolder(ctx, f.dir); err != nil {
		t.Fatal(err)
	}
	ran, err := f.admin.RunScheduledBackup(ctx, nil)
	if err != nil || !ran {
		t.Fatalf("first scheduled backup: ran=%v %v", ran, err)
	}
	st, _ = f.admin.BackupStatus(ctx)
	if st.Due || st.Warning != "" || st.LastGood.IsZero() {
		t.Fatalf("after backup: %+v", st)
	}
	f.clk.Advance(2 * time.Hour)
	if ran, _ := f.admin.RunScheduledBackup(ctx, nil); ran {
		t.Fatal("ran again within a day")
	}
	list, _ := f.admin.ListBackups(ctx, f.dir)
	if len(list) != 1 || !list[0].VerifyOK || list[0].Verified.IsZero() {
		t.Fatalf("list: %+v", list)
	}
	f.clk.Advance(4 * 24 * time.Hour)
	st, _ = f.admin.BackupStatus(ctx)
	if !st.Due || !strings.Contains(st.Warning, "4 days") {
		t.Fatalf("after 4 days: %+v", st)
	}
}

// TestFailedVerificationIsKeptTyped: the backup list says why a file's
// last verification failed as a value (errors.Is ErrBackupDamaged), so
// the screens need not read the recorded words.
func TestFailedVerificationIsKeptTyped(t *testing.T) {
	f := newBackupFixture(t)
	ctx := context.Background()
	info, err := f.admin.CreateBackup(ctx, f.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.VerifyBackup(ctx, info.Path, nil); err != nil {
		t.Fatal(err)
	}
	list, err := f.admin.ListBackups(ctx, f.dir)
	if err != nil || len(list) != 1 || !list[0].VerifyOK || list[0].VerifyErr != nil {
		t.Fatalf("after a good verification: %+v, %v", list, err)
	}
	good, _ := os.ReadFile(info.Path)
	if err := os.WriteFile(info.Path, flip(good, len(good)-3), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.VerifyBackup(ctx, info.Path, nil); !errors.Is(err, ErrBackupDamaged) {
		t.Fatalf("verify of a damaged file: %v", err)
	}
	list, err = f.admin.ListBackups(ctx, f.dir)
	if err != nil || len(list) != 1 || list[0].VerifyOK || list[0].VerifyErr == nil {
		t.Fatalf("after a failed verification: %+v, %v", list, err)
	}
	if !errors.Is(list[0].VerifyErr, ErrBackupDamaged) || list[0].VerifyErr.Detail == "" {
		t.Fatalf("the failure is kept as %+v", list[0].VerifyErr)
	}
}

// A backup's file name spells the practice's name in ASCII letters, as
// search does, rather than dropping the accented ones.
func TestBackupSlugSpellsAccentedNames(t *testing.T) {
	for in, want := range map[string]string{
		"Cabinet Peña-Ødegård":      "cabinet-pena-odegard",
		"Riverside Family Practice": "riverside-family-practice",
		"Przychodnia Łódź":          "przychodnia-lodz",
		"診療所":                       "practice",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}
