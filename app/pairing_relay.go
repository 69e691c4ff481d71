package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	cvsync "github.com/clinicvault/clinicvault/sync"
)

// Pairing a computer that shares no folder with the practice: the same
// protocol (pairing.go) through the relay's pairing stream. The joining
// computer connects as a guest, which may touch pairing files only; the
// approval names the practice's relay and its pinned certificate, and
// the new computer checks that the relay it met is that one.

// InviteThroughRelay starts pairing a new computer through the relay l
// (admins).
func (s *Session) InviteThroughRelay(ctx context.Context, l RelayLink) (*Invitation, error) {
	if err := s.require(Admin); err != nil {
		return nil, err
	}
	r, err := s.relayFor(ctx, l)
	if err != nil {
		return nil, err
	}
	inv, err := s.InviteVia(ctx, r)
	if err != nil {
		return nil, err
	}
	inv.relay = l.clean()
	return inv, nil
}

// JoinThroughRelay makes this (empty) data folder a new computer of the
// practice whose admin gave the code, through the relay l. Without a
// fingerprint (and without operator credentials) the relay's certificate
// is taken on trust for the pairing only, and must then be the one the
// approval names: otherwise nothing is set up (ErrRelayPin).
func (v *Vault) JoinThroughRelay(ctx context.Context, l RelayLink, code, name string, onFingerprint func(string), poll time.Duration) error {
	l = l.clean()
	o := cvsync.RelayOptions{URL: l.URL, Fingerprint: l.Fingerprint, Creds: l.Creds, Guest: true}
	o.TrustFirst = l.Fingerprint == "" && l.Creds == ""
	r, err := cvsync.DialRelay(ctx, o)
	if err != nil && o.TrustFirst && errors.Is(err, cvsync.ErrUnreachable) {
		o.TrustFirst = false // a relay without TLS (an operator's, on a private network)
		r, err = cvsync.DialRelay(ctx, o)
	}
	if err != nil {
		return err
	}
	defer r.Close()
	met := r.PeerFingerprint()
	accept := func(g *pairingGrant) error {
		// The practice's relay is known by its certificate, whatever
		// address this computer reached it at (the desk may use the LAN
		// address, a laptop at home a public name): the one the approval
		// names is the one met, or nothing is set up. Pinning whatever
		// was met when the addresses differ would pin whoever sat in
		// between.
		want := l.Fingerprint
		if g.Relay != nil && g.Relay.Fingerprint != "" {
			want = g.Relay.clean().Fingerprint
		}
		if want != "" && !sameFingerprint(want, met) {
			return fmt.Errorf("the relay this computer reached shows certificate %s, not the practice's %s: %w", met, want, cvsync.ErrRelayPin)
		}
		// The practice pins none (an operator's NATS server): neither
		// does this computer, and a certificate met on trust is not
		// made a pin.
		g.Relay = &RelayLink{URL: l.URL, Fingerprint: want}
		return nil
	}
	remember := func(ctx context.Context, tx *sql.Tx) error {
		if l.Creds != "" {
			return setRelaySetting(ctx, tx, RelayLink{URL: l.URL, Creds: l.Creds})
		}
		return nil
	}
	return v.joinVia(ctx, r, remember, accept, code, name, onFingerprint, poll)
}

func sameFingerprint(a, b string) bool {
	na, ea := cvsync.NormalizeFingerprint(a)
	nb, eb := cvsync.NormalizeFingerprint(b)
	return ea == nil && eb == nil && na == nb
}

// relayAsMember connects to the relay as this (new) computer, waiting
// up to half a minute for the relay to admit it (the admin's computer
// hands it the new list of computers right after the approval).
func (s *Session) relayAsMember(ctx context.Context, l RelayLink, seed []byte) (*cvsync.Relay, error) {
	if l.IsZero() {
		return nil, errors.New("no relay")
	}
	o := cvsync.RelayOptions{URL: l.URL, Fingerprint: l.Fingerprint, Creds: l.Creds, VaultID: s.kr.VaultID, Timeout: 3 * time.Second}
	if l.Fingerprint != "" && l.Creds == "" {
		o.DeviceSeed = seed
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := cvsync.DialRelay(ctx, o)
		if err == nil || !errors.Is(err, cvsync.ErrRelayRefused) || time.Now().After(deadline) {
			return r, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
