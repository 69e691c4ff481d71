package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/google/uuid"
)

// Trust invariant 6 from the attacker's side: someone who holds the sync
// folder (reads, writes, delays and deletes its files) and may even know
// the one-time code. The attacker works on the raw files by hand.

// overheard is an attacker who knows an invitation's code and holds the
// folder.
type overheard struct {
	t     *testing.T
	dir   string
	loc   string
	key   []byte
	offer []byte
}

func overhear(t *testing.T, dir, code string) *overheard {
	t.Helper()
	loc, secret, err := cvsync.ParsePairingCode(code)
	if err != nil {
		t.Fatal(err)
	}
	q := &overheard{t: t, dir: dir, loc: loc}
	raw, err := os.ReadFile(q.file("offer"))
	if err != nil {
		t.Fatal(err)
	}
	var of cvsync.OfferFile
	if err := json.Unmarshal(raw, &of); err != nil {
		t.Fatal(err)
	}
	if q.key, err = cvsync.PairingKey(secret, loc, of.KDF); err != nil {
		t.Fatal(err)
	}
	if q.offer, err = cvsync.OpenPairing(q.key, loc, "offer", of.Box); err != nil {
		t.Fatal(err)
	}
	return q
}

func (q *overheard) file(name string) string { return filepath.Join(q.dir, "pairing", q.loc, name) }

// answer is a reveal of req with a fresh nonce.
func answer(req cvsync.Request) []byte {
	b, _ := json.Marshal(cvsync.PairingReveal{Request: req, Nonce: store.NewKey()})
	return b
}

func (q *overheard) commit(id string, reveal []byte) {
	note, _ := json.Marshal(cvsync.PairingCommitNote{Commit: cvsync.PairingCommitment(q.loc, reveal)})
	if err := os.WriteFile(q.file("c-"+id), cvsync.SealPairing(q.key, q.loc, "commit", note), 0o600); err != nil {
		q.t.Fatal(err)
	}
}

// nonce waits for the inviting computer's nonce for commitment id.
func (q *overheard) nonce(id string) []byte {
	q.t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		if raw, err := os.ReadFile(q.file("n-" + id)); err == nil {
			body, err := cvsync.OpenPairing(q.key, q.loc, "nonce", raw)
			var n cvsync.PairingNonceNote
			if err != nil || json.Unmarshal(body, &n) != nil {
				q.t.Fatalf("the nonce: %v", err)
			}
			return n.Nonce
		}
		select {
		case <-deadline.C:
			q.t.Fatal("no nonce for the commitment")
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (q *overheard) reveal(id string, reveal []byte) {
	if err := os.WriteFile(q.file("r-"+id), cvsync.SealPairing(q.key, q.loc, "reveal", reveal), 0o600); err != nil {
		q.t.Fatal(err)
	}
}

// pairingFiles lists every file under the folder's pairing/.
func pairingFiles(dir string) map[string][]byte {
	out := map[string][]byte{}
	filepath.Walk(filepath.Join(dir, "pairing"), func(p string, info os.FileInfo, err error) error {
		if info != nil && !info.IsDir() {
			b, _ := os.ReadFile(p)
			out[p] = b
		}
		return nil
	})
	return out
}

// evilRequest is an answer with the attacker's own keys.
func evilRequest(id string) cvsync.Request {
	pub, _, _ := ed25519.GenerateKey(nil)
	return cvsync.Request{DeviceID: id, Name: "Front desk", PublicKey: store.NewSlotSecrets(nil).PublicKey(), SigningKey: pub}
}

type waited struct {
	req cvsync.Request
	fp  string
	err error
}

func waitInBackground(ctx context.Context, inv *Invitation, now func() time.Time) chan waited {
	ch := make(chan waited, 1)
	go func() {
		req, fp, err := inv.WaitForDevice(ctx, now, 5*time.Millisecond)
		ch <- waited{req, fp, err}
	}()
	return ch
}

// TestAttackPairingOfflineGuessNeedsArgon2id: nothing published opens or
// names the code without Argon2id: the old unstretched derivations (the
// HKDF-of-code id, the HKDF-of-code key) are nowhere, the folder's only
// name is the random locator, and every invitation has its own salt, so a
// guess costs one Argon2id run per invitation.
func TestAttackPairingOfflineGuessNeedsArgon2id(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	a := f.mustSignIn("Maria Admin", adminPass)
	var salts [][]byte
	for range 2 {
		inv, err := a.InviteDevice(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		loc, secret, _ := cvsync.ParsePairingCode(inv.Code)
		full := strings.ReplaceAll(inv.Code, "-", "")
		var ids []string
		var keys [][]byte
		for _, in := range []string{full, secret, loc + secret} {
			id, _ := store.DeriveKey([]byte(in), nil, store.LabelPairID, 16)
			ids = append(ids, hex.EncodeToString(id))
			for _, label := range []string{store.LabelPairBox, store.LabelPairBoxV2} {
				k, _ := store.DeriveKey([]byte(in), nil, label, 32)
				k2, _ := store.DeriveKey([]byte(in), []byte(loc), label, 32)
				keys = append(keys, k, k2)
			}
		}
		files := pairingFiles(dir)
		raw := files[filepath.Join(dir, "pairing", loc, "offer")]
		var of cvsync.OfferFile
		if err := json.Unmarshal(raw, &of); err != nil {
			t.Fatalf("offer: %v", err)
		}
		for p, b := range files {
			for _, id := range ids {
				raw, _ := hex.DecodeString(id)
				if strings.Contains(p, id) || bytes.Contains(b, []byte(id)) || bytes.Contains(b, raw) {
					t.Errorf("%s holds the unstretched id of the code", p)
				}
			}
			for _, k := range keys {
				if _, err := store.OpenBox(k, b, nil); err == nil {
					t.Errorf("%s opens with an unstretched key", p)
				}
				if _, err := cvsync.OpenPairing(k, loc, "offer", of.Box); err == nil {
					t.Errorf("the offer opens with an unstretched key")
				}
			}
		}
		if of.KDF.Time < store.MinKDF.Time || of.KDF.MemoryKiB < store.MinKDF.MemoryKiB || of.KDF.Threads < store.MinKDF.Threads || len(of.KDF.Salt) < 16 {
			t.Fatalf("the offer's Argon2id is weaker than RFC 9106's second option: %+v", of.KDF)
		}
		salts = append(salts, of.KDF.Salt)
		// The one way in: Argon2id over the secret and this salt.
		start := time.Now()
		key, err := cvsync.PairingKey(secret, loc, of.KDF)
		t.Logf("one guess costs Argon2id t=%d m=%d MiB p=%d: %v here", of.KDF.Time, of.KDF.MemoryKiB>>10, of.KDF.Threads, time.Since(start))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cvsync.OpenPairing(key, loc, "offer", of.Box); err != nil {
			t.Fatal("the offer does not open with the stretched key")
		}
		// Nothing but the random locator, the code's first group, names
		// the invitation.
		for p := range files {
			if rel, _ := filepath.Rel(filepath.Join(dir, "pairing"), p); loc != inv.Code[:5] || !strings.HasPrefix(rel, loc+string(filepath.Separator)) {
				t.Errorf("a pairing file at %s", rel)
			}
		}
		inv.Cancel()
	}
	if bytes.Equal(salts[0], salts[1]) {
		t.Fatal("two invitations share a salt: work on one carries over to the next")
	}
	if left := pairingFiles(dir); len(left) != 0 {
		t.Fatalf("cancelled invitations left files: %v", left)
	}
}

// TestAttackPairingFingerprintCannotBeGround: the attacker knows the code
// and answers first. It must commit before it sees the admin's computer's
// nonce; once it has seen it, the fingerprint the admin will be shown is
// fixed, and changing its reveal to steer the number is refused and voids
// the invitation.
func TestAttackPairingFingerprintCannotBeGround(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	a := f.mustSignIn("Maria Admin", adminPass)
	inv, err := a.InviteDevice(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	res := waitInBackground(ctx, inv, f.clk.Now)
	q := overhear(t, dir, inv.Code)
	req := evilRequest(uuid.NewString())
	first := answer(req)
	q.commit("x", first)
	n := q.nonce("x")
	// With the nonce in hand, the attacker computes the number its
	// committed answer gives, and grinds other answers for the one the
	// genuine computer shows; its best is a different reveal.
	fixed := cvsync.PairingFingerprint(q.loc, q.offer, n, first)
	var steered []byte
	for range 100 {
		if steered = answer(req); cvsync.PairingFingerprint(q.loc, q.offer, n, steered) != fixed {
			break
		}
	}
	q.reveal("x", steered)
	r := <-res
	if !errors.Is(r.err, cvsync.ErrPairingBroken) {
		t.Fatalf("a reveal that does not match its commitment: %+v", r)
	}
	if err := a.ApproveDevice(ctx, inv, req); err == nil {
		t.Fatal("a broken answer was approved")
	}
	if _, err := os.Stat(q.file("g-x")); err == nil {
		t.Fatal("a grant was written")
	}
	if _, err := os.Stat(q.file("offer")); err == nil {
		t.Fatal("the invitation is still open")
	}
	devs, _ := a.Devices(ctx)
	for _, d := range devs {
		if d.ID == req.DeviceID {
			t.Fatal("the attacker's computer is in the roster")
		}
	}
}

// TestAttackPairingSecondAnswerVoids: a second answer, at any time before
// the approval, voids the invitation with ErrPairingContested on both
// screens; nobody gets a grant.
func TestAttackPairingSecondAnswerVoids(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	a := f.mustSignIn("Maria Admin", adminPass)
	before, _ := a.Devices(ctx)

	// The genuine computer answers and both screens show the number;
	// then the attacker answers too, before the admin approves.
	inv, err := a.InviteDevice(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	lv := NewVault(filepath.Join(t.TempDir(), "laptop"))
	lv.Now = f.clk.Now
	done := make(chan error, 1)
	go func() { done <- lv.Join(ctx, dir, inv.Code, "laptop", nil, 5*time.Millisecond) }()
	req, _, err := inv.WaitForDevice(ctx, f.clk.Now, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	q := overhear(t, dir, inv.Code)
	q.commit("late", answer(evilRequest(uuid.NewString())))
	if err := a.ApproveDevice(ctx, inv, req); !errors.Is(err, cvsync.ErrPairingContested) {
		t.Fatalf("approval after a second answer: %v", err)
	}
	if err := <-done; !errors.Is(err, cvsync.ErrPairingContested) {
		t.Fatalf("the new computer: %v", err)
	}
	if lv.Exists() {
		t.Fatal("the new computer joined")
	}
	if files := pairingFiles(dir); len(files) != 1 || files[q.file("void")] == nil {
		t.Fatalf("after voiding: %v", files)
	}
	after, _ := a.Devices(ctx)
	if len(after) != len(before) {
		t.Fatalf("the roster changed: %d → %d computers", len(before), len(after))
	}

	// Two answers before the admin's computer answers either.
	inv, err = a.InviteDevice(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	q = overhear(t, dir, inv.Code)
	q.commit("a", answer(evilRequest(uuid.NewString())))
	q.commit("b", answer(evilRequest(uuid.NewString())))
	if _, _, err := inv.WaitForDevice(ctx, f.clk.Now, 5*time.Millisecond); !errors.Is(err, cvsync.ErrPairingContested) {
		t.Fatalf("two answers: %v", err)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := os.Stat(q.file("n-" + id)); err == nil {
			t.Fatalf("a nonce went to answer %s", id)
		}
	}
}

// TestAttackPairingReusesADeviceID: an answer naming a computer the
// roster holds, current or revoked, is refused, and that computer's keys
// and name stay as they were.
func TestAttackPairingReusesADeviceID(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	a := f.mustSignIn("Maria Admin", adminPass)
	mustSync(t, a, dir)
	old := pair(t, f, a, dir, "old-pc")
	mustSync(t, a, dir)
	revoked := deviceOf(t, old)
	if err := a.RevokeDevice(ctx, dir, revoked); err != nil {
		t.Fatal(err)
	}
	rosterOf := func(id string) string {
		s, err := scalar[string](ctx, a.general, `SELECT name || '/' || x25519_pub || '/' || ed25519_pub || '/' || coalesce(revoked_at, '') FROM devices WHERE id = ?`, id)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, id := range []string{a.DeviceID(), revoked} {
		before := rosterOf(id)
		if err := approveAnswerNaming(t, f, a, dir, id); !errors.Is(err, ErrDeviceIDTaken) {
			t.Fatalf("an answer reusing %s: %v", id, err)
		}
		if after := rosterOf(id); after != before {
			t.Fatalf("the roster's entry changed:\n%s\n%s", before, after)
		}
	}
	// Below the pairing too: the roster never overwrites a device.
	err := inTx(ctx, a.general, func(tx *sql.Tx) error {
		return a.cw().addDeviceToRoster(ctx, tx, revoked, "x", make([]byte, 32), make([]byte, 32), 1)
	})
	if !errors.Is(err, ErrDeviceIDTaken) {
		t.Fatalf("addDeviceToRoster over a device: %v", err)
	}
}

// TestAttackPairingFilesGone: after a pairing nothing of it is left in the
// folder; an invitation that expires takes its files (and an answer
// someone left) with it; a computer joining after the expiry is told so.
func TestAttackPairingFilesGone(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	dir := t.TempDir()
	a := f.mustSignIn("Maria Admin", adminPass)
	pair(t, f, a, dir, "laptop")
	if left := pairingFiles(dir); len(left) != 0 {
		t.Fatalf("left after use: %v", left)
	}

	inv, err := a.InviteDevice(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	res := waitInBackground(ctx, inv, f.clk.Now)
	q := overhear(t, dir, inv.Code)
	q.commit("x", answer(evilRequest(uuid.NewString())))
	q.nonce("x")
	f.clk.Advance(cvsync.PairingExpiry + time.Minute)
	if r := <-res; !errors.Is(r.err, ErrPairingTimeout) {
		t.Fatalf("expiry: %v", r.err)
	}
	if left := pairingFiles(dir); len(left) != 0 {
		t.Fatalf("left after expiry: %v", left)
	}

	inv, err = a.InviteDevice(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	f.clk.Advance(cvsync.PairingExpiry + time.Minute)
	lv := NewVault(filepath.Join(t.TempDir(), "late"))
	lv.Now = f.clk.Now
	if err := lv.Join(ctx, dir, inv.Code, "late", nil, 5*time.Millisecond); !errors.Is(err, cvsync.ErrPairingExpired) {
		t.Fatalf("joining after the expiry: %v", err)
	}
	inv.Cancel()
	if left := pairingFiles(dir); len(left) != 0 {
		t.Fatalf("left after the late join: %v", left)
	}
}

// approveAnswerNaming invites a computer through dir, answers the code
// as an attacker who overheard it with a request naming device id, and
// returns what the admin's approval of that answer says; it fails the
// test if a grant was written.
func approveAnswerNaming(t *testing.T, f *fixture, a *Session, dir, id string) error {
	t.Helper()
	ctx := context.Background()
	inv, err := a.InviteDevice(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer inv.Cancel()
	res := waitInBackground(ctx, inv, f.clk.Now)
	q := overhear(t, dir, inv.Code)
	rev := answer(evilRequest(id))
	q.commit("x", rev)
	q.nonce("x")
	q.reveal("x", rev)
	r := <-res
	if r.err != nil {
		t.Fatal(r.err)
	}
	err = a.ApproveDevice(ctx, inv, r.req)
	if _, serr := os.Stat(q.file("g-x")); serr == nil {
		t.Fatal("a grant was written")
	}
	return err
}
