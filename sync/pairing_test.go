package sync

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// TestPairingCodeShape: three groups of five Crockford characters (75
// bits: a 25-bit locator and a 50-bit secret), forgiving when typed.
func TestPairingCodeShape(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}$`)
	seen := map[string]bool{}
	for range 200 {
		code := NewPairingCode()
		if !shape.MatchString(code) {
			t.Fatalf("code %q", code)
		}
		loc, secret, err := ParsePairingCode(strings.ToLower(strings.ReplaceAll(code, "-", " ")))
		if err != nil || loc != code[:5] || secret != code[6:11]+code[12:] {
			t.Fatalf("%q parsed as %q %q: %v", code, loc, secret, err)
		}
		seen[loc] = true
	}
	if len(seen) < 190 {
		t.Fatalf("only %d locators in 200 codes", len(seen))
	}
	if loc, secret, err := ParsePairingCode("abcdo-il234-56789"); err != nil || loc != "ABCD0" || secret != "1123456789" {
		t.Fatalf("O, I and L: %q %q %v", loc, secret, err)
	}
	for _, bad := range []string{"", "ABCDE-12345", "ABCDE-12345-6789", "ABCDE-12345-6789U", "ABCDE-12345-67890-1"} {
		if _, _, err := ParsePairingCode(bad); !errors.Is(err, ErrNoInvitation) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestPairingKeyIsStretched: the key comes from Argon2id under the offer's
// salt (a different salt, a different key; the bare secret through HKDF
// is not it), and parameters outside the bounds are refused either way.
func TestPairingKeyIsStretched(t *testing.T) {
	kdf := PairingKDF.WithNewSalt()
	start := time.Now()
	k1, err := PairingKey("1123456789", "ABCD0", kdf)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Argon2id t=%d m=%d MiB p=%d: %v per stretch", kdf.Time, kdf.MemoryKiB/1024, kdf.Threads, took)
	k2, _ := PairingKey("1123456789", "ABCD0", PairingKDF.WithNewSalt())
	plain, _ := store.DeriveKey([]byte("1123456789"), []byte("ABCD0"), store.LabelPairBoxV2, 32)
	if bytes.Equal(k1, k2) || bytes.Equal(k1, plain) {
		t.Fatal("the key does not depend on the salt, or is the unstretched HKDF")
	}
	for _, p := range []store.KDFParams{
		{Time: 1, MemoryKiB: 64 * 1024, Threads: 4, Salt: kdf.Salt},
		{Time: 3, MemoryKiB: 8 * 1024, Threads: 4, Salt: kdf.Salt},
		{Time: 3, MemoryKiB: 64 * 1024, Threads: 4, Salt: []byte("short")},
		{Time: 3, MemoryKiB: 8 * 1024 * 1024, Threads: 4, Salt: kdf.Salt}, // 8 GiB: a joining computer is not made to try
		{Time: 1000, MemoryKiB: 64 * 1024, Threads: 4, Salt: kdf.Salt},
	} {
		if _, err := PairingKey("1123456789", "ABCD0", p); !errors.Is(err, ErrPairing) {
			t.Errorf("t=%d m=%d salt %d bytes: %v", p.Time, p.MemoryKiB, len(p.Salt), err)
		}
	}
}

// TestPairingFileKinds: a sealed pairing file opens only as its own kind
// at its own invitation.
func TestPairingFileKinds(t *testing.T) {
	key := store.NewKey()
	box := SealPairing(key, "ABCDE", "commit", []byte("x"))
	if _, err := OpenPairing(key, "ABCDE", "commit", box); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPairing(key, "ABCDE", "reveal", box); !errors.Is(err, ErrPairing) {
		t.Fatal("a commit opened as a reveal")
	}
	if _, err := OpenPairing(key, "ABCDF", "commit", box); !errors.Is(err, ErrPairing) {
		t.Fatal("a file opened at another invitation")
	}
}

// TestPairingFingerprintShape: 12 digits in groups of three, changed by
// either nonce.
func TestPairingFingerprintShape(t *testing.T) {
	fp := PairingFingerprint("ABCDE", []byte("offer"), []byte("nonce"), []byte("reveal"))
	if !regexp.MustCompile(`^\d{3} \d{3} \d{3} \d{3}$`).MatchString(fp) || FingerprintDigits != 12 {
		t.Fatalf("fingerprint %q", fp)
	}
	if fp == PairingFingerprint("ABCDE", []byte("offer"), []byte("nonce2"), []byte("reveal")) ||
		fp == PairingFingerprint("ABCDE", []byte("offer"), []byte("nonce"), []byte("reveal2")) {
		t.Fatal("the fingerprint ignores a nonce")
	}
}

// runInviter polls iv until it is done or fails.
func runInviter(iv *Inviter) (Request, string, error) {
	for {
		req, fp, done, err := iv.Poll()
		if done || err != nil {
			return req, fp, err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPairingProtocolOnAFolder: both sides through a Folder (as a
// Transport) reach the same fingerprint; the grant reaches the joining
// side; nothing is left once it is read.
func TestPairingProtocolOnAFolder(t *testing.T) {
	var tr Transport = Folder{Dir: t.TempDir()}
	code := NewPairingCode()
	offer := Offer{VaultID: "v", DeviceID: "d", PublicKey: make([]byte, 32), Expires: time.Now().Add(PairingExpiry)}
	iv, err := Invite(tr, code, offer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Invite(tr, code, offer); !errors.Is(err, ErrExists) {
		t.Fatalf("a second offer at the same place: %v", err)
	}
	type result struct {
		req Request
		fp  string
		err error
	}
	got := make(chan result, 1)
	go func() {
		req, fp, err := runInviter(iv)
		got <- result{req, fp, err}
	}()
	j, err := FindInvitation(tr, strings.ToLower(code))
	if err != nil || j.Offer.VaultID != "v" {
		t.Fatalf("%+v %v", j, err)
	}
	req := Request{DeviceID: "new", Name: "laptop", PublicKey: bytes.Repeat([]byte{1}, 32), SigningKey: bytes.Repeat([]byte{2}, 32)}
	if err := j.Answer(req); err != nil {
		t.Fatal(err)
	}
	var fp string
	for done := false; !done; time.Sleep(5 * time.Millisecond) {
		if fp, done, err = j.PollNonce(); err != nil {
			t.Fatal(err)
		}
	}
	r := <-got
	if r.err != nil || r.fp != fp || r.req.DeviceID != "new" {
		t.Fatalf("inviter %+v, joiner %q", r, fp)
	}
	// A second computer with the code is turned away.
	if j2, err := FindInvitation(tr, code); err != nil || !errors.Is(j2.Answer(req), ErrPairingAnswered) {
		t.Fatalf("a second answer: %v", err)
	}
	if err := iv.Grant([]byte("grant")); err != nil {
		t.Fatal(err)
	}
	box, done, err := j.PollGrant()
	if err != nil || !done || string(box) != "grant" {
		t.Fatalf("grant %q %v %v", box, done, err)
	}
	j.Cleanup()
	if left, _ := tr.List(PairingDir(code[:5])); len(left) != 0 {
		t.Fatalf("left after use: %v", left)
	}
}

// TestAttackPairingRevealChangedAfterNonce: someone with the code commits,
// sees the inviting computer's nonce, then reveals something else (to
// steer the fingerprint): refused, and the invitation is void.
func TestAttackPairingRevealChangedAfterNonce(t *testing.T) {
	dir := t.TempDir()
	tr := Folder{Dir: dir}
	code := NewPairingCode()
	iv, err := Invite(tr, code, Offer{VaultID: "v", DeviceID: "d", PublicKey: make([]byte, 32), Expires: time.Now().Add(PairingExpiry)})
	if err != nil {
		t.Fatal(err)
	}
	// The attacker, by hand.
	loc, secret, _ := ParsePairingCode(code)
	var of OfferFile
	raw, _ := os.ReadFile(filepath.Join(dir, "pairing", loc, "offer"))
	json.Unmarshal(raw, &of)
	key, err := PairingKey(secret, loc, of.KDF)
	if err != nil {
		t.Fatal(err)
	}
	req := Request{DeviceID: "evil", PublicKey: bytes.Repeat([]byte{1}, 32), SigningKey: bytes.Repeat([]byte{2}, 32)}
	first, _ := json.Marshal(PairingReveal{Request: req, Nonce: bytes.Repeat([]byte{3}, 32)})
	note, _ := json.Marshal(PairingCommitNote{Commit: PairingCommitment(loc, first)})
	os.WriteFile(filepath.Join(dir, "pairing", loc, "c-1"), SealPairing(key, loc, "commit", note), 0o600)
	if _, _, done, err := iv.Poll(); done || err != nil {
		t.Fatalf("%v %v", done, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "pairing", loc, "n-1")); err != nil {
		t.Fatal("no nonce for the commitment")
	}
	other, _ := json.Marshal(PairingReveal{Request: req, Nonce: bytes.Repeat([]byte{4}, 32)})
	os.WriteFile(filepath.Join(dir, "pairing", loc, "r-1"), SealPairing(key, loc, "reveal", other), 0o600)
	if _, _, _, err := iv.Poll(); !errors.Is(err, ErrPairingBroken) {
		t.Fatalf("a changed reveal: %v", err)
	}
	if err := iv.Grant([]byte("grant")); !errors.Is(err, ErrPairingContested) {
		t.Fatalf("a grant after a broken answer: %v", err)
	}
	if left, _ := tr.List(PairingDir(loc)); len(left) != 1 || left[0] != "void" {
		t.Fatalf("left: %v", left)
	}
}

// TestPairingProtocolOnARelay: the same messages through a NATS relay,
// the joining side connected for pairing only (no vault yet); a second
// answer voids the invitation there too, and the joining side hears it.
func TestPairingProtocolOnARelay(t *testing.T) {
	s := startNATS(t, 64<<10)
	admin := dialTest(t, s, "vault-1")
	guest := dialTest(t, s, "")
	code := NewPairingCode()
	iv, err := Invite(admin, code, Offer{VaultID: "vault-1", DeviceID: "d", PublicKey: make([]byte, 32), Expires: time.Now().Add(PairingExpiry)})
	if err != nil {
		t.Fatal(err)
	}
	j, err := FindInvitation(guest, code)
	if err != nil {
		t.Fatal(err)
	}
	req := Request{DeviceID: "new", PublicKey: bytes.Repeat([]byte{1}, 32), SigningKey: bytes.Repeat([]byte{2}, 32)}
	if err := j.Answer(req); err != nil {
		t.Fatal(err)
	}
	if _, _, done, err := iv.Poll(); done || err != nil {
		t.Fatalf("poll: %v %v", done, err)
	}
	fp, done, err := j.PollNonce()
	if err != nil || !done {
		t.Fatalf("nonce: %v %v", done, err)
	}
	_, got, done, err := iv.Poll()
	if err != nil || !done || got != fp {
		t.Fatalf("inviter %q %v %v, joiner %q", got, done, err, fp)
	}
	// Another computer with the code answers too, ignoring the first.
	other := dialTest(t, s, "")
	j2, err := FindInvitation(other, code)
	if err != nil {
		t.Fatal(err)
	}
	j2.id = "second"
	j2.reveal = []byte("{}")
	j2.commit = PairingCommitment(j2.loc, j2.reveal)
	note, _ := json.Marshal(PairingCommitNote{Commit: j2.commit})
	if err := other.WriteOnce(j2.path("c-second"), SealPairing(j2.key, j2.loc, "commit", note)); err != nil {
		t.Fatal(err)
	}
	if err := iv.Grant([]byte("grant")); !errors.Is(err, ErrPairingContested) {
		t.Fatalf("grant after a second answer: %v", err)
	}
	if _, _, err := j.PollGrant(); !errors.Is(err, ErrPairingContested) {
		t.Fatalf("the joining side: %v", err)
	}
	// The offer went with the rest: a late comer finds nothing.
	if _, err := FindInvitation(guest, code); !errors.Is(err, ErrNoInvitation) {
		t.Fatalf("finding a void invitation: %v", err)
	}
}

// TestPairingIgnoresConflictCopies: a cloud service's copies of the
// joining computer's commitment, beside it or left when the original
// was renamed away, are nobody's second answer: the invitation goes on.
func TestPairingIgnoresConflictCopies(t *testing.T) {
	dir := t.TempDir()
	tr := Folder{Dir: dir}
	code := NewPairingCode()
	iv, err := Invite(tr, code, Offer{VaultID: "v", DeviceID: "d", PublicKey: make([]byte, 32), Expires: time.Now().Add(PairingExpiry)})
	if err != nil {
		t.Fatal(err)
	}
	j, err := FindInvitation(tr, code)
	if err != nil {
		t.Fatal(err)
	}
	req := Request{DeviceID: "new", Name: "laptop", PublicKey: bytes.Repeat([]byte{1}, 32), SigningKey: bytes.Repeat([]byte{2}, 32)}
	if err := j.Answer(req); err != nil {
		t.Fatal(err)
	}
	commit := filepath.Join(dir, "pairing", j.loc, "c-"+j.id)
	data, err := os.ReadFile(commit)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{" (1)", " (conflicted copy 2026-12-07)", ".sync-conflict-20261207-101010-ABCDEFG"} {
		os.WriteFile(commit+name, data, 0o600)
	}
	if _, _, _, err := iv.Poll(); err != nil {
		t.Fatalf("with copies beside the commitment: %v", err)
	}
	// OneDrive renamed the commitment away on a conflict: only its copy
	// is left.
	if err := os.Rename(commit, commit+"-RECEPTION-PC"); err != nil {
		t.Fatal(err)
	}
	var fp string
	for done := false; !done; time.Sleep(5 * time.Millisecond) {
		if fp, done, err = j.PollNonce(); err != nil {
			t.Fatal(err)
		}
	}
	got, ifp, err := runInviter(iv)
	if err != nil || ifp != fp || got.DeviceID != "new" {
		t.Fatalf("inviter %+v %q %v, joiner %q", got, ifp, err, fp)
	}
}
