package sync

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// The pairing messages, all under pairing/<locator>/ on any Transport and
// all sealed under PairingKey except the grant:
//
//	offer     inviter  OfferFile: Argon2id salt and parameters, sealed Offer
//	c-<id>    joiner   commitment H(reveal) to its answer (one per answer)
//	n-<id>    inviter  its random nonce, naming the commitment it answers
//	r-<id>    joiner   the reveal: its keys, device id, name and nonce
//	g-<id>    inviter  the grant, sealed to the revealed X25519 key
//	void      inviter  the invitation is void (more than one answer)
//
// The inviting computer answers only the first commitment, and only once;
// a second commitment, seen at any time before the grant is written, voids
// the invitation (ErrPairingContested). It checks that the reveal hashes
// to the commitment (ErrPairingBroken otherwise). The joining computer
// checks that the nonce names its own commitment, and reveals only after
// it has the nonce. The fingerprint covers the offer, both nonces and the
// reveal: whoever answers must commit before seeing the inviting
// computer's nonce, and the joining computer's nonce is hidden until the
// inviting computer's is fixed, so nobody can grind the fingerprint.

// Inviter is the inviting computer's side of one invitation.
type Inviter struct {
	t     Transport
	loc   string
	key   []byte
	offer []byte
	// seen holds every commitment that opened with the code, by id.
	seen   map[string][]byte
	chosen string
	nonce  []byte
	req    *Request
	fp     string
	void   bool
}

// Invite publishes an offer for code on t (Argon2id runs here, once). It
// returns an error wrapping ErrExists when the code's locator is taken:
// make a new code.
func Invite(t Transport, code string, offer Offer) (*Inviter, error) {
	loc, secret, err := ParsePairingCode(code)
	if err != nil {
		return nil, err
	}
	kdf := PairingKDF.WithNewSalt()
	key, err := PairingKey(secret, loc, kdf)
	if err != nil {
		return nil, err
	}
	iv := &Inviter{t: t, loc: loc, key: key, offer: marshal(offer), seen: map[string][]byte{}}
	file := marshal(OfferFile{Version: 2, KDF: kdf, Box: SealPairing(key, loc, "offer", iv.offer)})
	if err := t.WriteOnce(iv.path("offer"), file); err != nil {
		return nil, err
	}
	return iv, nil
}

func (iv *Inviter) path(name string) string { return PairingDir(iv.loc) + "/" + name }

// look reads the commitments on the transport; more than one, ever, voids
// the invitation.
func (iv *Inviter) look() error {
	names, err := iv.t.List(PairingDir(iv.loc))
	if err != nil {
		return nil // unreachable for now: the next look sees them
	}
	for _, n := range names {
		id, ok := answerID(n)
		if !ok || iv.seen[id] != nil {
			continue
		}
		if c := openCommit(iv.t, iv.key, iv.loc, id); c != nil {
			iv.seen[id] = c
		}
	}
	if len(iv.seen) > 1 {
		iv.voidAll()
		return ErrPairingContested
	}
	return nil
}

// answerID is the id in a commitment's file name, "c-<id>": letters and
// digits only (a joining computer's are 32 hexadecimal digits), so that
// a copy a cloud service made of a commitment ("c-<id> (1)",
// "c-<id>-DESKTOP-ABC", kept when the original has gone) is nobody's
// answer, and does not void the invitation as a second one would.
func answerID(name string) (string, bool) {
	id, ok := strings.CutPrefix(name, "c-")
	if !ok || id == "" {
		return "", false
	}
	for _, r := range id {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "", false
		}
	}
	return id, true
}

// openCommit reads commitment id; nil when it is missing or was not made
// with the code (such a file is nobody's answer).
func openCommit(t Transport, key []byte, loc, id string) []byte {
	data, err := t.Read(PairingDir(loc) + "/c-" + id)
	if err != nil {
		return nil
	}
	body, err := OpenPairing(key, loc, "commit", data)
	if err != nil {
		return nil
	}
	var c PairingCommitNote
	if json.Unmarshal(body, &c) != nil || len(c.Commit) != 32 {
		return nil
	}
	return c.Commit
}

// Poll looks once for the joining computer's answer: it publishes the
// nonce for the first commitment and, once the reveal is in and matches,
// returns the request and the fingerprint with done true.
func (iv *Inviter) Poll() (req Request, fp string, done bool, err error) {
	if iv.void {
		return req, "", false, ErrPairingContested
	}
	if iv.req != nil {
		return *iv.req, iv.fp, true, nil
	}
	if err := iv.look(); err != nil {
		return req, "", false, err
	}
	if iv.chosen == "" {
		for id := range iv.seen {
			iv.chosen = id
		}
		if iv.chosen == "" {
			return req, "", false, nil
		}
		iv.nonce = randomBytes(32)
		note := marshal(PairingNonceNote{Nonce: iv.nonce, Commit: iv.seen[iv.chosen]})
		if err := iv.t.WriteOnce(iv.path("n-"+iv.chosen), SealPairing(iv.key, iv.loc, "nonce", note)); err != nil {
			// Someone wrote there first: only this computer answers.
			iv.voidAll()
			return req, "", false, fmt.Errorf("the nonce's place was taken: %w", ErrPairingContested)
		}
	}
	data, err := iv.t.Read(iv.path("r-" + iv.chosen))
	if err != nil {
		return req, "", false, nil
	}
	reveal, err := OpenPairing(iv.key, iv.loc, "reveal", data)
	if err != nil {
		return req, "", false, nil // not made with the code: nobody's reveal
	}
	var r PairingReveal
	if !bytes.Equal(PairingCommitment(iv.loc, reveal), iv.seen[iv.chosen]) ||
		json.Unmarshal(reveal, &r) != nil || r.DeviceID == "" || len(r.PublicKey) != 32 ||
		len(r.SigningKey) != ed25519.PublicKeySize || len(r.Nonce) != 32 {
		iv.voidAll()
		return req, "", false, ErrPairingBroken
	}
	iv.req = &r.Request
	iv.fp = PairingFingerprint(iv.loc, iv.offer, iv.nonce, reveal)
	return r.Request, iv.fp, true, nil
}

// Answer is the request Poll returned, if any.
func (iv *Inviter) Answer() (Request, bool) {
	if iv.req == nil || iv.void {
		return Request{}, false
	}
	return *iv.req, true
}

// Grant publishes the grant for the answered request, unless a second
// answer has arrived since (ErrPairingContested, and the invitation is
// void).
func (iv *Inviter) Grant(box []byte) error {
	if iv.void {
		return ErrPairingContested
	}
	if iv.req == nil {
		return errors.New("sync: no answer to approve yet")
	}
	if err := iv.look(); err != nil {
		return err
	}
	return iv.t.WriteOnce(iv.path("g-"+iv.chosen), box)
}

// Cancel withdraws the invitation: every file of it is removed.
func (iv *Inviter) Cancel() { removeAll(iv.t, iv.loc, "") }

// voidAll marks the invitation void for the joining computers and removes
// every other file of it.
func (iv *Inviter) voidAll() {
	iv.void = true
	iv.t.WriteOnce(iv.path("void"), SealPairing(iv.key, iv.loc, "void", []byte("contested")))
	removeAll(iv.t, iv.loc, "void")
}

func removeAll(t Transport, loc, keep string) {
	names, _ := t.List(PairingDir(loc))
	for _, n := range names {
		if n != keep {
			t.Remove(PairingDir(loc) + "/" + n)
		}
	}
}

// Joiner is the joining computer's side of one invitation.
type Joiner struct {
	// Offer is the inviting computer's offer, opened with the code.
	Offer  Offer
	t      Transport
	loc    string
	key    []byte
	offer  []byte
	id     string
	commit []byte
	reveal []byte
	fp     string
}

// FindInvitation reads and opens the offer for code on t (Argon2id runs
// here, once). ErrNoInvitation when there is none or it does not open;
// the transport's own error when it cannot be reached.
func FindInvitation(t Transport, code string) (*Joiner, error) {
	loc, secret, err := ParsePairingCode(code)
	if err != nil {
		return nil, err
	}
	data, err := t.Read(PairingDir(loc) + "/offer")
	if errors.Is(err, ErrUnreachable) {
		return nil, err
	}
	var f OfferFile
	if err != nil || json.Unmarshal(data, &f) != nil || f.Version != 2 {
		return nil, ErrNoInvitation
	}
	key, err := PairingKey(secret, loc, f.KDF)
	if err != nil {
		return nil, err
	}
	body, err := OpenPairing(key, loc, "offer", f.Box)
	if err != nil {
		return nil, ErrNoInvitation
	}
	j := &Joiner{t: t, loc: loc, key: key, offer: body}
	if err := json.Unmarshal(body, &j.Offer); err != nil {
		return nil, ErrNoInvitation
	}
	if j.voided() {
		return nil, ErrPairingContested
	}
	return j, nil
}

func (j *Joiner) path(name string) string { return PairingDir(j.loc) + "/" + name }

func (j *Joiner) voided() bool {
	data, err := j.t.Read(j.path("void"))
	if err != nil {
		return false
	}
	_, err = OpenPairing(j.key, j.loc, "void", data)
	return err == nil
}

// withdrawn reports whether the offer is gone (the inviting computer
// cancelled, or the invitation ended).
func (j *Joiner) withdrawn() bool {
	_, err := j.t.Read(j.path("offer"))
	return errors.Is(err, fs.ErrNotExist)
}

// Answer commits to req and a fresh nonce. ErrPairingAnswered when another
// computer has answered already.
func (j *Joiner) Answer(req Request) error {
	names, err := j.t.List(PairingDir(j.loc))
	if err != nil {
		return err
	}
	for _, n := range names {
		if id, ok := answerID(n); ok && openCommit(j.t, j.key, j.loc, id) != nil {
			return ErrPairingAnswered
		}
	}
	j.reveal = marshal(PairingReveal{Request: req, Nonce: randomBytes(32)})
	j.commit = PairingCommitment(j.loc, j.reveal)
	j.id = randomHex(16)
	note := marshal(PairingCommitNote{Commit: j.commit})
	return j.t.WriteOnce(j.path("c-"+j.id), SealPairing(j.key, j.loc, "commit", note))
}

// PollNonce looks once for the inviting computer's nonce; when it is there
// and names this computer's commitment, it publishes the reveal and
// returns the fingerprint with done true.
func (j *Joiner) PollNonce() (fp string, done bool, err error) {
	if j.fp != "" {
		return j.fp, true, nil
	}
	if j.voided() {
		return "", false, ErrPairingContested
	}
	data, err := j.t.Read(j.path("n-" + j.id))
	if err != nil {
		if j.withdrawn() {
			return "", false, ErrPairingClosed
		}
		return "", false, nil
	}
	body, err := OpenPairing(j.key, j.loc, "nonce", data)
	if err != nil {
		return "", false, nil // not made with the code
	}
	var n PairingNonceNote
	if json.Unmarshal(body, &n) != nil || len(n.Nonce) != 32 || !bytes.Equal(n.Commit, j.commit) {
		return "", false, fmt.Errorf("the inviting computer answered another commitment: %w", ErrPairingContested)
	}
	if err := j.t.WriteOnce(j.path("r-"+j.id), SealPairing(j.key, j.loc, "reveal", j.reveal)); err != nil {
		return "", false, err
	}
	j.fp = PairingFingerprint(j.loc, j.offer, n.Nonce, j.reveal)
	return j.fp, true, nil
}

// PollGrant looks once for the grant sealed to this computer.
func (j *Joiner) PollGrant() (box []byte, done bool, err error) {
	if box, err := j.t.Read(j.path("g-" + j.id)); err == nil {
		return box, true, nil
	}
	if j.voided() {
		return nil, false, ErrPairingContested
	}
	if j.withdrawn() {
		return nil, false, ErrPairingClosed
	}
	return nil, false, nil
}

// Cleanup removes every file of the invitation: used once the grant is
// read, so nothing of the pairing stays on the transport.
func (j *Joiner) Cleanup() { removeAll(j.t, j.loc, "") }
