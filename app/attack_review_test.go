package app

// Review attacks on the sync authority changes (envelope v3, judge, halts,
// adopt/replace). Each test plays the attacker with raw keys and folder
// files, like attack_test.go.

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"golang.org/x/crypto/chacha20poly1305"
)

// deskKeysAs is what someone who signs in on the computer of session s
// (or holds an old copy of its data folder) takes with their own slot:
// the general key, the general sync key of epoch 0, their own signing key
// and the computer's device key from its general.db.
func deskKeysAs(t *testing.T, dataDir string, kr *store.Keyring, name, pass string) (in insider, syncKey []byte, signKey, devKey ed25519.PrivateKey) {
	t.Helper()
	in = unwrapInsider(t, kr, name, pass)
	var err error
	syncKey, err = store.DeriveKey(in.kGen, []byte(kr.VaultID), store.LabelSyncKey+"/general/0", 32)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := store.Open(context.Background(), filepath.Join(dataDir, store.General.FileName()), store.General, in.kGen)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	var seed []byte
	if err := gen.QueryRow(`SELECT ed25519_seed FROM device_keys WHERE id = 1`).Scan(&seed); err != nil {
		t.Fatal(err)
	}
	return in, syncKey, ed25519.NewKeyFromSeed(in.secrets.SigningSeed), ed25519.NewKeyFromSeed(seed)
}

// TestAttackReviewReceptionistWedgesHerComputersLogThroughAdoption: Rita, a
// receptionist who signs in on the front-desk computer A, reads A's device
// key from A's general.db (her own general key opens it) and writes the
// next batch of A's log herself: device-signed by A, signed by her, under
// the real general sync key, with a record every receiver refuses (her
// own role set to admin) or can never apply (a column that does not
// exist: held forever). A's next pass finds "its own" batch at that number
// (device signature, previous hash, it opens) and adopts it as sent,
// without judging its records; its genuine changes go out after it, and
// every other computer's log of A stops at Rita's batch for good.
func TestAttackReviewReceptionistWedgesHerComputersLogThroughAdoption(t *testing.T) {
	for _, variant := range []string{"role (halt)", "unknown column (hold)"} {
		t.Run(variant, func(t *testing.T) {
			f, dir, a, b := twoMachines(t)
			ctx := context.Background()
			f.addUser(a, "Rita Front", Receptionist, recPass)
			mustSync(t, a, dir)
			mustSync(t, b, dir)

			kr, err := store.LoadKeyring(a.v.Dir)
			if err != nil {
				t.Fatal(err)
			}
			rita, key, signKey, devKey := deskKeysAs(t, a.v.Dir, kr, "Rita Front", recPass)
			seq, prev := lastInFolder(t, dir, a.DeviceID())
			hlc := cvsync.Timestamp{Wall: uint64(f.clk.Now().UnixMilli()), Device: a.DeviceID()}
			var rec cvsync.Record
			if variant == "role (halt)" {
				role := "admin"
				rec = cvsync.Record{HLC: hlc.String(), Table: "users", RowID: rita.slot.UserID,
					Columns: map[string]*string{"role": &role}, Device: a.DeviceID(), Author: rita.slot.UserID}
			} else {
				v := "x"
				rec = cvsync.Record{HLC: hlc.String(), Table: "patients", RowID: newID(),
					Columns: map[string]*string{"no_such_column": &v}, Device: a.DeviceID(), Author: rita.slot.UserID}
			}
			forge(t, dir, kr.VaultID, a.DeviceID(), seq+1, prev, 0, cvsync.General, key, rita.slot.UserID, signKey, devKey, []cvsync.Record{rec})

			// The laptop does not apply it (good so far).
			if rep, err := b.Sync(ctx, dir); err != nil || rep.Applied != 0 {
				t.Fatalf("Rita's batch: %+v %v", rep, err)
			}
			// The admin works on A as usual; A's pass meets the file at its
			// next number.
			f.clk.Advance(time.Minute)
			if _, _, err := a.AddPatient(ctx, Patient{Given: "Genuine", Family: "Afterwards", DOB: "1980-02-02"}); err != nil {
				t.Fatal(err)
			}
			if _, err := a.Sync(ctx, dir); err != nil {
				t.Fatal(err)
			}
			for pass := 0; pass < 3; pass++ {
				if _, err := b.Sync(ctx, dir); err != nil {
					t.Fatal(err)
				}
				f.clk.Advance(time.Minute)
				if _, err := a.Sync(ctx, dir); err != nil {
					t.Fatal(err)
				}
			}
			if got, _ := b.SearchPatients(ctx, "afterwards", 5); len(got) != 1 {
				var adopted int
				a.general.QueryRow(`SELECT count(*) FROM sync_sent WHERE seq = ?`, seq+1).Scan(&adopted)
				t.Fatalf("A's genuine change never reaches the laptop: A's log stops for good at Rita's batch %d (A recorded it as its own sent batch: %v)", seq+1, adopted == 1)
			}
		})
	}
}

// TestAttackReviewRemovedAdminBackdatesHisBatch: Bob, an admin, is removed. With
// his old vault.keys and passphrase he still derives the general sync key
// (removal rotates nothing) and reads the front desk's device key from
// its general.db. The only thing that stopped him writing himself back
// was "signed by someone removed before the records' time" — and he
// chooses the records' time. He dates his batch one second before his
// removal and writes a new admin account with a signing key he keeps, at
// A's next number. The laptop applies it, and A adopts it as its own.
// With that account he signs, with today's times, whatever he likes.
func TestAttackReviewRemovedAdminBackdatesHisBatch(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	const bobPass = "marble orchestra lantern velvet"
	f.addUser(a, "Bob Admin", Admin, bobPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	oldKeys, err := store.LoadKeyring(a.v.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// His copy of the desk's data folder, taken while he worked there
	// (the desk's general.db changes key at his removal).
	hisCopy := filepath.Join(t.TempDir(), "his-copy")
	copyDir(t, a.v.Dir, hisCopy)
	f.clk.Advance(time.Hour)
	if err := a.RemoveUser(ctx, "Bob Admin"); err != nil {
		t.Fatal(err)
	}
	removedAt := f.clk.Now()
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	f.clk.Advance(24 * time.Hour)

	bob, key, signKey, devKey := deskKeysAs(t, hisCopy, oldKeys, "Bob Admin", bobPass)
	puppetPub, puppetKey, _ := ed25519.GenerateKey(nil)
	puppet := newID()
	// Dated one second before his removal.
	hlc := cvsync.Timestamp{Wall: uint64(removedAt.Add(-time.Second).UnixMilli()), Device: a.DeviceID()}
	str := func(s string) *string { return &s }
	seq, prev := lastInFolder(t, dir, a.DeviceID())
	forge(t, dir, oldKeys.VaultID, a.DeviceID(), seq+1, prev, 0, cvsync.General, key, bob.slot.UserID, signKey, devKey, []cvsync.Record{{
		HLC: hlc.String(), Table: "users", RowID: puppet, Device: a.DeviceID(), Author: bob.slot.UserID,
		Columns: map[string]*string{"name": str("IT Support"), "role": str("admin"), "created_at": str("1"),
			"sign_pub": str(hexKey(puppetPub))},
	}})
	// Then, as the puppet admin, with today's time: anything an admin may sign.
	seq, prev = lastInFolder(t, dir, a.DeviceID())
	now := cvsync.Timestamp{Wall: uint64(f.clk.Now().UnixMilli()), Device: a.DeviceID()}
	forge(t, dir, oldKeys.VaultID, a.DeviceID(), seq+1, prev, 0, cvsync.General, key, puppet, puppetKey, devKey, []cvsync.Record{{
		HLC: now.String(), Table: "users", RowID: a.user.ID, Device: a.DeviceID(), Author: puppet,
		Columns: map[string]*string{"role": str("receptionist")},
	}})

	rep, err := b.Sync(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	var role string
	b.general.QueryRow(`SELECT role FROM users WHERE id = ?`, puppet).Scan(&role)
	var maria string
	b.general.QueryRow(`SELECT role FROM users WHERE id = ?`, a.user.ID).Scan(&maria)
	if role != "" || maria != "admin" {
		t.Fatalf("a batch signed by a removed admin, dated before his removal, was applied a day after it: the laptop has a new admin %q (role %q) and Maria is now %q (%+v)", "IT Support", role, maria, rep)
	}
}

func hexKey(k []byte) string { return hex.EncodeToString(k) }

// clinicalBatchOf finds the newest clinical batch of device in the folder.
func clinicalBatchOf(t *testing.T, dir, device string) (uint64, string) {
	t.Helper()
	seqs, err := cvsync.Folder{Dir: dir}.Seqs(device, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := len(seqs) - 1; i >= 0; i-- {
		p := batchPath(dir, device, seqs[i])
		env, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if h, err := cvsync.ParseHeader(env); err == nil && h.Class == cvsync.Clinical {
			return seqs[i], p
		}
	}
	t.Fatal("no clinical batch")
	return 0, ""
}

// sealV2 writes a batch in format 2 (no device signature) as an attacker
// would, byte for byte after sync/doc.go.
func sealV2(t *testing.T, h cvsync.Header, recs []cvsync.Record, key []byte, signer ed25519.PrivateKey) []byte {
	t.Helper()
	uuid := func(s string) []byte {
		b, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
		if err != nil || len(b) != 16 {
			t.Fatalf("uuid %q", s)
		}
		return b
	}
	hb := []byte("CVSB")
	hb = append(hb, 2)
	hb = append(hb, uuid(h.VaultID)...)
	hb = binary.BigEndian.AppendUint32(hb, h.Epoch)
	hb = append(hb, byte(h.Class))
	hb = append(hb, uuid(h.Device)...)
	hb = binary.BigEndian.AppendUint64(hb, h.Seq)
	hb = append(hb, h.PrevHash[:]...)
	hb = append(hb, uuid(h.Signer)...)
	nonce := make([]byte, 24)
	rand.Read(nonce)
	hb = append(hb, nonce...)
	js, _ := json.Marshal(recs)
	var body bytes.Buffer
	fw, _ := flate.NewWriter(&body, flate.BestSpeed)
	fw.Write(js)
	fw.Close()
	sig := ed25519.Sign(signer, append(append([]byte("clinicvault.org/v1/sync-batch"), hb...), body.Bytes()...))
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		t.Fatal(err)
	}
	return aead.Seal(hb, nonce, append(sig, body.Bytes()...), hb)
}

// TestAttackReviewUnsignedFormatOpensANewComputersLog: format 2 is refused only
// "after that device's log had a signed batch". A computer just paired
// has no batch yet (and after the upgrade every log's last batch is
// recorded as version 2), so Rita, a receptionist, writes batch 1 of the
// new computer's log in format 2 with nothing but her own slot: the
// general sync key and her signing key, no device key at all. A applies
// it as the new computer's. When the new computer sends, it finds a file
// at 1 without its signature, replaces it, and its batch 2 names a
// previous hash A never took: A's log of the new computer halts for good.
func TestAttackReviewUnsignedFormatOpensANewComputersLog(t *testing.T) {
	f, dir, a, _ := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	mustSync(t, a, dir)
	cv := pair(t, f, a, dir, "exam-room")
	mustSync(t, a, dir)
	c := deviceOf(t, cv)

	kr, _ := store.LoadKeyring(a.v.Dir)
	rita := unwrapInsider(t, kr, "Rita Front", recPass)
	key, _ := store.DeriveKey(rita.kGen, []byte(kr.VaultID), store.LabelSyncKey+"/general/0", 32)
	hlc := cvsync.Timestamp{Wall: uint64(f.clk.Now().UnixMilli()), Device: c}
	v, dob, at := "Forged", "1990-01-01", "1"
	env := sealV2(t, cvsync.Header{VaultID: kr.VaultID, Class: cvsync.General, Device: c, Seq: 1, Signer: rita.slot.UserID},
		[]cvsync.Record{{HLC: hlc.String(), Table: "patients", RowID: newID(), Device: c, Author: rita.slot.UserID,
			Columns: map[string]*string{"given": &v, "family": &v, "mrn": &v, "dob": &dob, "created_at": &at, "updated_at": &at}}},
		key, ed25519.NewKeyFromSeed(rita.secrets.SigningSeed))
	os.MkdirAll(filepath.Dir(batchPath(dir, c, 1)), 0o700)
	if err := os.WriteFile(batchPath(dir, c, 1), env, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := a.Sync(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := a.SearchPatients(ctx, "forged", 5); len(got) != 0 {
		t.Errorf("an unsigned batch written by a receptionist into a new computer's log was applied as that computer's (%+v)", rep)
	}
	// The genuine computer sends.
	cs := signInOn(t, f, cv, "Maria Admin", adminPass)
	for _, fam := range []string{"One", "Two"} {
		cs.AddPatient(ctx, Patient{Given: "Exam", Family: fam, DOB: "1990-01-01"})
		cs.Sync(ctx, dir)
	}
	a.Sync(ctx, dir)
	if got, _ := a.SearchPatients(ctx, "exam", 5); len(got) != 2 {
		t.Fatalf("the new computer's genuine changes never arrive: %d of 2", len(got))
	}
}

// TestAttackReviewBatchThatCanNeverApplyIsHeldNotHalted: a batch that opens and
// passes the role rule but can never be applied (it names a column the
// table does not have) fails in applyBatch on every pass. That
// failure is taken for a transient one (disk full, busy) and held: the
// log of A stops there for good, yet it is never shown halted (Devices,
// sync_halts, the CLI's exit code), and every pass retries it. Rita
// writes one into A's log with A's device key from general.db.
func TestAttackReviewBatchThatCanNeverApplyIsHeldNotHalted(t *testing.T) {
	for _, variant := range []string{"unknown column"} {
		t.Run(variant, func(t *testing.T) {
			f, dir, a, b := twoMachines(t)
			ctx := context.Background()
			f.addUser(a, "Rita Front", Receptionist, recPass)
			mustSync(t, a, dir)
			mustSync(t, b, dir)
			kr, _ := store.LoadKeyring(a.v.Dir)
			rita, key, signKey, devKey := deskKeysAs(t, a.v.Dir, kr, "Rita Front", recPass)
			seq, prev := lastInFolder(t, dir, a.DeviceID())
			hlc := cvsync.Timestamp{Wall: uint64(f.clk.Now().UnixMilli()), Device: a.DeviceID()}
			v := "Forged"
			cols := map[string]*string{"no_such_column": &v}
			forge(t, dir, kr.VaultID, a.DeviceID(), seq+1, prev, 0, cvsync.General, key, rita.slot.UserID, signKey, devKey, []cvsync.Record{{
				HLC: hlc.String(), Table: "patients", RowID: newID(), Columns: cols, Device: a.DeviceID(), Author: rita.slot.UserID}})
			var rep SyncReport
			for pass := 0; pass < 3; pass++ {
				var err error
				if rep, err = b.Sync(ctx, dir); err != nil {
					t.Fatal(err)
				}
			}
			devs, _ := b.Devices(ctx)
			for _, d := range devs {
				if d.ID == a.DeviceID() && !d.Halted {
					t.Fatalf("a batch that can never be applied holds A's log forever, not shown halted (halted %d; problem %q)", rep.Halted, d.Problem)
				}
			}
		})
	}
}

// TestAttackReviewReceptionistRewritesTheAdminsUnsentChanges: Maria (admin) on
// the front desk changes a patient's allergy-alert note; before A's next
// pass, Rita — on the same computer, with her own slot — reads the unsent
// change records from A's general.db (their HLCs), and writes A's next
// batch herself: the same HLCs, table and row, author still Maria, but
// her own value. It carries A's device signature and her own user
// signature, so every receiver applies it (nobody compares a record's
// author with the batch's signer). A's pass then finds "its own" batch at
// that number and adopts it: adoptOwnBatch looks the HLCs up in the change
// log and marks Maria's genuine changes as sent, without comparing values.
// Maria's value never leaves A; every other computer shows Rita's, as
// written by Maria, and nothing is reported anywhere.
func TestAttackReviewReceptionistRewritesTheAdminsUnsentChanges(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	p, _, err := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1970-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	mustSync(t, b, dir)

	note := "ANAPHYLAXIS to penicillin - do not give"
	if _, err := a.EditPatient(ctx, p.MRN, PatientChanges{AdminNotes: &note}); err != nil {
		t.Fatal(err)
	}
	// Rita, on A: the unsent change records, from general.db.
	kr, _ := store.LoadKeyring(a.v.Dir)
	rita, key, signKey, devKey := deskKeysAs(t, a.v.Dir, kr, "Rita Front", recPass)
	gen, err := store.Open(ctx, filepath.Join(a.v.Dir, store.General.FileName()), store.General, rita.kGen)
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	gen.QueryRow(`SELECT coalesce(max(last_change), 0) FROM sync_sent WHERE class = 'general'`).Scan(&last)
	rows, err := gen.Query(`SELECT hlc, tbl, row_id, col, value, device, author FROM changes WHERE seq > ? AND device = ? ORDER BY seq`, last, a.DeviceID())
	if err != nil {
		t.Fatal(err)
	}
	var recs []cvsync.Record
	for rows.Next() {
		var r cvsync.Record
		var col string
		var v sql.NullString
		rows.Scan(&r.HLC, &r.Table, &r.RowID, &col, &v, &r.Device, &r.Author)
		r.Columns, _ = decodeColumns(col, v)
		if _, ok := r.Columns["admin_notes"]; ok {
			mine := "no known allergies"
			r.Columns["admin_notes"] = &mine
		}
		recs = append(recs, r)
	}
	rows.Close()
	gen.Close()
	if len(recs) == 0 {
		t.Fatal("no unsent change")
	}
	seq, prev := lastInFolder(t, dir, a.DeviceID())
	forge(t, dir, kr.VaultID, a.DeviceID(), seq+1, prev, 0, cvsync.General, key, rita.slot.UserID, signKey, devKey, recs)

	rep, err := a.Sync(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, b, dir)
	got, err := b.GetPatient(ctx, p.MRN)
	if err != nil {
		t.Fatal(err)
	}
	if got.AdminNotes != note {
		t.Fatalf("the laptop shows %q, written by Maria; Maria wrote %q. A reported: %q", got.AdminNotes, note, rep.Problems)
	}
}

// TestAttackReviewSchema7KeepsOldRefusalsSkipped: a vault upgraded from schema
// 6 where the old anchor bug already struck — the folder writer's attack
// of the commit message: batch k refused, k+1 refused as a fork, k+2
// applied. Migration 0007 deletes the 'refused' rows and says they are
// "judged again", but receiving starts after max(seq) of sync_received,
// which is still k+2: k and k+1 are never read again, the loss stays, and
// nothing shows it (no halt, no problem).
func TestAttackReviewSchema7KeepsOldRefusalsSkipped(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	var seqs []uint64
	for _, fam := range []string{"Alpha", "Bravo", "Charlie"} {
		a.AddPatient(ctx, Patient{Given: "Old", Family: fam, DOB: "1990-01-01"})
		mustSync(t, a, dir)
		q, _ := sentUpToSeq(a)
		seqs = append(seqs, q)
	}
	// The laptop's general.db as schema 6 left it after the attack.
	bv := b.v
	b.Lock(ctx)
	kr, _ := store.LoadKeyring(bv.Dir)
	maria := unwrapInsider(t, kr, "Maria Admin", adminPass)
	gen, err := store.Open(ctx, filepath.Join(bv.Dir, store.General.FileName()), store.General, maria.kGen)
	if err != nil {
		t.Fatal(err)
	}
	for i, state := range []string{"refused", "refused", "applied"} {
		env, err := os.ReadFile(batchPath(dir, a.DeviceID(), seqs[i]))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(env)
		if state == "refused" {
			h[0] ^= 1 // the junk that was there
		}
		if _, err := gen.Exec(`INSERT INTO sync_received (device, seq, class, hash, state, reason, at) VALUES (?, ?, 'general', ?, ?, '', 0)`,
			a.DeviceID(), seqs[i], h[:], state); err != nil {
			t.Fatal(err)
		}
	}
	// Undo schema 7 (every table and column it adds) so that the real
	// migration runs at the next sign-in. The columns that schemas 10 to
	// 15 add are renamed or dropped out of their way (this SQLite cannot drop a
	// column), as those migrations run again after it.
	for _, q := range []string{`ALTER TABLE users RENAME COLUMN bookable TO old_bookable`,
		`ALTER TABLE appointments RENAME COLUMN cancel_reason TO old_cancel_reason`,
		`ALTER TABLE patients RENAME COLUMN postcode TO old_postcode`, `ALTER TABLE patients RENAME COLUMN national_number TO old_national_number`,
		`ALTER TABLE patients RENAME COLUMN sms_consent TO old_sms_consent`, `ALTER TABLE patients RENAME COLUMN language TO old_language`, `ALTER TABLE backups RENAME COLUMN verify_kind TO old_verify_kind`,
		`ALTER TABLE sync_peers RENAME COLUMN problem_kind TO old_problem_kind`, `ALTER TABLE sync_peers RENAME COLUMN problem_seq TO old_problem_seq`,
		`ALTER TABLE sync_peers RENAME COLUMN problem_epoch TO old_problem_epoch`, `ALTER TABLE sync_peers RENAME COLUMN problem_wait_ms TO old_problem_wait_ms`,
		`DROP TABLE sync_log`, `DROP TABLE epoch_files`, `DROP TABLE sync_places`,
		`DROP TABLE sync_halts`, `DROP TABLE epoch_outbox`, `DROP TABLE sync_outbox`, `DROP TABLE clinical_key_chain`, `DROP TABLE clinical_key_escrow`, `DROP TABLE general_key_chain`, `DROP TABLE key_history`, `DROP TABLE audit_remote`, `DROP TABLE audit_witness`, `DROP TABLE audit_problems`, `DROP TABLE audit_files`, `DROP TABLE audit_heads`, `DROP TABLE audit_head_seen`,
		`CREATE TABLE sync_keys6 (epoch INTEGER PRIMARY KEY, key BLOB NOT NULL)`, `INSERT INTO sync_keys6 SELECT epoch, key FROM sync_keys`,
		`DROP TABLE sync_keys`, `ALTER TABLE sync_keys6 RENAME TO sync_keys`,
		`CREATE TABLE keyring_slots6 (id TEXT PRIMARY KEY, slot TEXT NOT NULL DEFAULT '', archived INTEGER NOT NULL DEFAULT 0)`,
		`INSERT INTO keyring_slots6 SELECT id, slot, archived FROM keyring_slots`,
		`DROP TABLE keyring_slots`, `ALTER TABLE keyring_slots6 RENAME TO keyring_slots`,
		`ALTER TABLE sync_received RENAME TO sync_received7`,
		`CREATE TABLE sync_received (device TEXT NOT NULL, seq INTEGER NOT NULL, class TEXT NOT NULL, hash BLOB NOT NULL,
			state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', at INTEGER NOT NULL, PRIMARY KEY (device, seq))`,
		`INSERT INTO sync_received SELECT device, seq, class, hash, state, reason, at FROM sync_received7`,
		`DROP TABLE sync_received7`,
		`PRAGMA user_version = 6`} {
		if _, err := gen.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	gen.Close()
	// The upgrade: schema 7 runs at sign-in; the genuine batches are all
	// in the folder.
	s := signInOn(t, f, bv, "Maria Admin", adminPass)
	for pass := 0; pass < 2; pass++ {
		if _, err := s.Sync(ctx, dir); err != nil {
			t.Fatal(err)
		}
	}
	for _, fam := range []string{"alpha", "bravo"} {
		if got, _ := s.SearchPatients(ctx, fam, 5); len(got) != 1 {
			devs, _ := s.Devices(ctx)
			var shown string
			for _, d := range devs {
				if d.ID == a.DeviceID() {
					shown = fmt.Sprintf("halted %v, problem %q", d.Halted, d.Problem)
				}
			}
			t.Fatalf("after the upgrade, %s (batch refused by schema 6, genuine in the folder) is still missing; A's log: %s", fam, shown)
		}
	}
}
