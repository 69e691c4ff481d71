package app

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nkeys"

	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/clinicvault/clinicvault/sync/relayserver"
)

// The relay: a NATS JetStream server (one `clinicvault relay serve` for a
// practice, or any NATS cluster) that every computer reaches and that
// holds only sealed batches. This file holds how a session reaches it
// and keeps the relay's list of the practice's computers in step with
// the roster: a computer paired is admitted, a computer revoked is
// disconnected and refused.

// RelayLink says how this computer reaches a relay.
type RelayLink struct {
	URL string `json:"url"` // nats://host:port (a cluster: several, comma-separated)
	// Fingerprint pins the certificate of a relay made by relay serve.
	Fingerprint string `json:"fingerprint,omitempty"`
	// Creds is a credentials file for any other NATS server (a NATS
	// creds file, user:password, or a token).
	Creds string `json:"creds,omitempty"`
}

// clean is l with its fingerprint in the one form certificates are named
// by (a fingerprint that is none is left for the check that refuses it).
func (l RelayLink) clean() RelayLink {
	l.URL = strings.TrimSpace(l.URL)
	if fp, err := cvsync.NormalizeFingerprint(l.Fingerprint); err == nil {
		l.Fingerprint = fp
	}
	return l
}

// key names the connection to l among a session's.
func (l RelayLink) key() string { return l.URL + "|" + l.Fingerprint + "|" + l.Creds }

// IsZero reports whether no relay is set.
func (l RelayLink) IsZero() bool { return l.URL == "" }

// RelayPlace is the relay l.
func RelayPlace(l RelayLink) Place { return Place{Relay: l} }

const settingSyncRelay = "sync_relay"

// relayConns are a session's open relay connections.
type relayConns struct {
	mu sync.Mutex
	m  map[string]*cvsync.Relay
}

func (rc *relayConns) closeAll() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for k, r := range rc.m {
		r.Close()
		delete(rc.m, k)
	}
}

// relayFor is the session's connection to a relay, made at first use:
// this computer signs in as its device key (relay serve), or with the
// credentials file given (any NATS server).
func (s *Session) relayFor(ctx context.Context, l RelayLink) (*cvsync.Relay, error) {
	l = l.clean()
	key := l.key()
	s.relays.mu.Lock()
	r := s.relays.m[key]
	s.relays.mu.Unlock()
	if r != nil {
		return r, nil
	}
	s.mu.Lock()
	if s.locked {
		s.mu.Unlock()
		return nil, ErrLocked
	}
	vault, dev := s.kr.VaultID, s.device
	var seed []byte
	if l.Fingerprint != "" && l.Creds == "" {
		// A relay made by relay serve admits the practice's computers by
		// their device keys; another NATS server, whom its operator says.
		seed = append(seed, s.devKeys.ed25519...)
	}
	s.mu.Unlock()
	r, err := cvsync.DialRelay(ctx, cvsync.RelayOptions{URL: l.URL, Fingerprint: l.Fingerprint, Creds: l.Creds,
		DeviceSeed: seed, VaultID: vault, Name: "clinicvault " + cvsync.RelayDeviceName(vault, dev)[:8]})
	clear(seed)
	if err != nil {
		return nil, err
	}
	s.relays.mu.Lock()
	if had := s.relays.m[key]; had != nil {
		s.relays.mu.Unlock()
		r.Close()
		return had, nil
	}
	if s.relays.m == nil {
		s.relays.m = map[string]*cvsync.Relay{}
	}
	s.relays.m[key] = r
	s.relays.mu.Unlock()
	if s.Locked() {
		s.relays.closeAll() // locked while connecting
		return nil, ErrLocked
	}
	return r, nil
}

// RelayConnected reports whether the session holds a live connection to
// the relay l (the Sync screen's connected/offline).
func (s *Session) RelayConnected(l RelayLink) bool {
	s.relays.mu.Lock()
	defer s.relays.mu.Unlock()
	r := s.relays.m[l.clean().key()]
	return r != nil && r.Connected()
}

// SyncRelay returns the relay this computer syncs through (zero when
// none is set, or the setting cannot be read).
func (s *Session) SyncRelay(ctx context.Context) RelayLink {
	if s.require() != nil {
		return RelayLink{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return readRelaySetting(ctx, s.general)
}

func readRelaySetting(ctx context.Context, db querier) RelayLink {
	var l RelayLink
	v, err := readSetting(ctx, db, settingSyncRelay)
	if err != nil || v == "" || json.Unmarshal([]byte(v), &l) != nil {
		return RelayLink{}
	}
	return l.clean()
}

func setRelaySetting(ctx context.Context, tx *sql.Tx, l RelayLink) error {
	if l.IsZero() {
		return setSetting(ctx, tx, settingSyncRelay, "")
	}
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return setSetting(ctx, tx, settingSyncRelay, string(b))
}

// SetSyncRelay remembers the relay for this computer (zero: none), and
// audits the change.
func (s *Session) SetSyncRelay(ctx context.Context, l RelayLink) error {
	if err := s.require(); err != nil {
		return err
	}
	l = l.clean()
	if !l.IsZero() && l.Fingerprint != "" {
		if _, err := cvsync.PinnedTLS(l.Fingerprint); err != nil {
			return invalid("%v", err)
		}
	}
	now := s.v.now()
	return s.write(ctx, func(tx *sql.Tx) error {
		if readRelaySetting(ctx, tx) == l {
			return nil
		}
		if err := setRelaySetting(ctx, tx, l); err != nil {
			return err
		}
		what := "none"
		if !l.IsZero() {
			what = l.URL
		}
		return audit(ctx, tx, now, s.actor(), "relay-set", what, l.Fingerprint)
	})
}

// relayAccess is the access list the roster gives: every computer not
// revoked, by its NKey; the admins' signing keys; and a version that
// grows with every pairing, revocation, and member of staff added or
// removed (so that a computer that has not heard of a revocation yet
// cannot put the revoked computer back). It is signed by the signed-in
// admin (ErrNotPermitted for anyone else).
func (s *Session) relayAccess(ctx context.Context) (cvsync.RelayAccess, error) {
	a, err := s.relayList(ctx)
	if err != nil {
		return a, err
	}
	return a, s.signRelayList(&a)
}

// relayList is relayAccess unsigned.
func (s *Session) relayList(ctx context.Context) (cvsync.RelayAccess, error) {
	vault := cvsync.RelayVaultName(s.kr.VaultID)
	a := cvsync.RelayAccess{Vault: vault}
	type dev struct {
		id, pub        string
		added, revoked int64
		isRevoked      bool
	}
	devs, err := queryAll(ctx, s.general, func(r row) (d dev, err error) {
		var rev sql.NullInt64
		err = r.Scan(&d.id, &d.pub, &d.added, &rev)
		d.revoked, d.isRevoked = rev.Int64, rev.Valid
		return d, err
	}, `SELECT id, ed25519_pub, added_at, revoked_at FROM devices ORDER BY id`)
	if err != nil {
		return a, err
	}
	var newest, events int64
	for _, d := range devs {
		newest = max(newest, d.added, d.revoked)
		events++
		if d.isRevoked {
			events++
			continue
		}
		if nk, ok := userNKey(d.pub); ok {
			a.Members = append(a.Members, cvsync.RelayMember{NKey: nk, Device: cvsync.RelayDeviceName(s.kr.VaultID, d.id)})
		}
	}
	// The admins sign the lists: their own keys, which only they hold.
	type admin struct {
		pub              string
		created, removed int64
		gone             bool
	}
	users, err := queryAll(ctx, s.general, func(r row) (u admin, err error) {
		var role string
		var rem sql.NullInt64
		err = r.Scan(&u.pub, &role, &u.created, &rem)
		u.removed, u.gone = rem.Int64, rem.Valid || Role(role) != Admin
		return u, err
	}, `SELECT sign_pub, role, created_at, removed_at FROM users ORDER BY id`)
	if err != nil {
		return a, err
	}
	for _, u := range users {
		newest = max(newest, u.created, u.removed)
		events++
		if u.removed != 0 {
			events++
		}
		if u.gone {
			continue
		}
		if nk, ok := userNKey(u.pub); ok {
			a.Admins = append(a.Admins, nk)
		}
	}
	a.Version = newest<<10 | min(events, 1023)
	return a, nil
}

// signRelayList signs a with the signed-in admin's own key.
func (s *Session) signRelayList(a *cvsync.RelayAccess) error {
	if s.user.Role != Admin || s.secrets == nil {
		return ErrNotPermitted
	}
	kp, err := cvsync.DeviceNKey(s.secrets.SigningSeed) // an Ed25519 seed, as a device key is
	if err != nil {
		return err
	}
	defer kp.Wipe()
	return a.Sign(kp)
}

// userNKey is a signing key (hex, as the roster keeps it) as an NKey.
func userNKey(pubHex string) (string, bool) {
	pub, err := hex.DecodeString(pubHex)
	if err != nil || len(pub) != 32 {
		return "", false
	}
	nk, err := nkeys.Encode(nkeys.PrefixByteUser, pub)
	return string(nk), err == nil
}

// ErrRelayClaim means relay serve refused the claim: the code is wrong
// or the relay belongs to a practice already.
var ErrRelayClaim = errors.New("the relay refused the claim")

// ClaimRelay hands a new relay (relay serve, not yet claimed) the
// practice's list of computers, with the claim code it printed, and
// remembers it as this computer's relay (admins).
func (s *Session) ClaimRelay(ctx context.Context, l RelayLink, code string) error {
	if err := s.require(Admin); err != nil {
		return err
	}
	l = l.clean()
	s.mu.Lock()
	a, err := s.relayAccess(ctx)
	s.mu.Unlock()
	if err != nil {
		return err
	}
	r, err := cvsync.DialRelay(ctx, cvsync.RelayOptions{URL: l.URL, Fingerprint: l.Fingerprint, Claim: relayserver.NormalizeClaimCode(code)})
	if err != nil {
		if errors.Is(err, cvsync.ErrRelayRefused) {
			return fmt.Errorf("%w: the claim code is not this relay's, or the relay was claimed already", ErrRelayClaim)
		}
		return err
	}
	defer r.Close()
	body, _ := json.Marshal(a)
	answer, err := r.Request(cvsync.RelayClaimSubject, body)
	if err != nil {
		return err
	}
	if answer != "ok" {
		return fmt.Errorf("%w: %s", ErrRelayClaim, answer)
	}
	if err := s.SetSyncRelay(ctx, l); err != nil {
		return err
	}
	now := s.v.now()
	return s.write(ctx, func(tx *sql.Tx) error {
		if err := setSetting(ctx, tx, relayAccessSetting(l), strconv.FormatInt(a.Version, 10)); err != nil {
			return err
		}
		return audit(ctx, tx, now, s.actor(), "relay-claimed", l.URL, fmt.Sprintf("%d computers admitted", len(a.Members)))
	})
}

func relayAccessSetting(l RelayLink) string { return "relay_access:" + l.URL }

// keepRelayAccess sends the relay the roster's access list when it
// changed since the relay last took one from this computer. A stock NATS
// server has no one answering: its operator admits computers. s.mu held.
func (s *Session) keepRelayAccess(ctx context.Context, r *cvsync.Relay, l RelayLink, rep *SyncReport) {
	if s.user.Role != Admin {
		return // only an admin's key signs the relay's list: the next admin's pass sends it
	}
	a, err := s.relayList(ctx)
	if err != nil {
		return
	}
	name := relayAccessSetting(l)
	if last, _ := readSetting(ctx, s.general, name); last == strconv.FormatInt(a.Version, 10) || last == "operator" {
		return // signed only when it is to be sent
	}
	if err := s.signRelayList(&a); err != nil {
		return
	}
	body, _ := json.Marshal(a)
	answer, err := r.Request(cvsync.RelayAccessSubject, body)
	switch {
	case errors.Is(err, cvsync.ErrNoRelayControl):
		setSettingDB(ctx, s.general, name, "operator")
		return
	case err != nil:
		rep.note(ProblemRelay, "the relay's list of computers could not be updated: %v", err)
		return
	case strings.Contains(answer, "not newer"):
		// The relay holds a list this computer's roster does not give:
		// one from a computer that has heard of a change this one has
		// not yet (gone at its next pass), or one signed with a
		// computer's key read from its general.db. Not taken as sent:
		// it is offered again at the next pass.
		rep.note(ProblemRelay, "the relay admits another list of computers than this computer's roster gives (%s): if this lasts, someone with a computer's key replaced it", answer)
		return
	case answer != "ok":
		rep.note(ProblemRelay, "the relay refused this practice's list of computers: %s", answer)
		return
	}
	setSettingDB(ctx, s.general, name, strconv.FormatInt(a.Version, 10))
}
