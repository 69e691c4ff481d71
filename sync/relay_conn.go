package sync

// Reaching a relay: the options, the pinned TLS, the credentials, the
// errors a computer meets, and the connection's state.

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RelayOptions says how to reach a relay.
type RelayOptions struct {
	// URL is nats://host:port, or several (a cluster) separated by commas.
	URL string
	// Fingerprint pins the TLS certificate of a relay made by relay serve
	// ("sha256:" and 64 hex digits): no other certificate is accepted,
	// whatever signs it.
	Fingerprint string
	// Creds is a file with the credentials a NATS operator gave: a NATS
	// credentials file, "user:password", or a token.
	Creds string
	// DeviceSeed is this computer's Ed25519 device key: it signs in as its
	// NKey (a relay made by relay serve admits the practice's computers).
	DeviceSeed []byte
	// Claim is the one-time code of a relay serve not yet claimed.
	Claim string
	// Guest connects for pairing only (a computer joining).
	Guest bool
	// TrustFirst accepts the relay's certificate whatever it is, for a
	// computer joining that was given no fingerprint: the approval then
	// names the practice's relay's fingerprint, and the joining computer
	// checks that it is the one it met (PeerFingerprint).
	TrustFirst bool
	// VaultID names the practice's stream; empty for pairing only.
	VaultID string
	// Replicas of the stream when this computer creates it (a cluster).
	Replicas int
	// Name is the connection's name the relay's operator sees (no names of
	// people or places: a device's opaque name).
	Name string
	// Timeout bounds each request to the relay (5 s when zero).
	Timeout time.Duration
}

// ErrRelayRefused means the relay refused this computer: not admitted
// (not paired, or revoked), or a permission it does not have.
var ErrRelayRefused = errors.New("sync: the relay refused this computer")

// ErrRelayPin means the relay's certificate is not the one pinned.
var ErrRelayPin = errors.New("sync: the relay's certificate is not the one this practice paired with (another server, or someone in between)")

// PinnedTLS is a TLS configuration that accepts only the certificate
// whose SHA-256 is fingerprint.
func PinnedTLS(fingerprint string) (*tls.Config, error) {
	norm, err := NormalizeFingerprint(fingerprint)
	if err != nil {
		return nil, err
	}
	want, _ := hex.DecodeString(strings.TrimPrefix(norm, "sha256:"))
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // the pin below replaces the name check
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return ErrRelayPin
			}
			got := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if subtle.ConstantTimeCompare(got[:], want) != 1 {
				return ErrRelayPin
			}
			return nil
		},
	}, nil
}

// NormalizeFingerprint is a fingerprint as typed (any case, with or
// without "sha256:", spaces or colons between the digits) in the one
// form CertFingerprint gives, so that two spellings of one certificate
// compare equal.
func NormalizeFingerprint(fingerprint string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(fingerprint))
	s = strings.TrimPrefix(s, "sha256:")
	s = strings.NewReplacer(" ", "", ":", "", "-", "").Replace(s)
	if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("sync: %q is not a relay fingerprint (sha256: and 64 hex digits)", fingerprint)
	}
	return "sha256:" + s, nil
}

// CertFingerprint is how a relay's certificate is named for pinning.
func CertFingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// credsOptions reads a credentials file.
func credsOptions(path string) ([]nats.Option, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("relay credentials: %w", err)
	}
	text := strings.TrimSpace(string(data))
	switch {
	case strings.Contains(text, "BEGIN NATS USER JWT"):
		return []nats.Option{nats.UserCredentials(path)}, nil
	case strings.Contains(text, "BEGIN USER NKEY SEED") || strings.HasPrefix(text, "SU"):
		opt, err := nats.NkeyOptionFromSeed(path)
		if err != nil {
			return nil, fmt.Errorf("relay credentials: %w", err)
		}
		return []nats.Option{opt}, nil
	}
	line, _, _ := strings.Cut(text, "\n")
	line = strings.TrimSpace(line)
	if user, pass, ok := strings.Cut(line, ":"); ok && !strings.Contains(line, "://") {
		return []nats.Option{nats.UserInfo(user, pass)}, nil
	}
	if line == "" {
		return nil, fmt.Errorf("relay credentials: %s is empty", path)
	}
	return []nats.Option{nats.Token(line)}, nil
}

// DialRelay connects to a relay. A relay that cannot be reached returns
// an error wrapping ErrUnreachable; one that refuses this computer,
// ErrRelayRefused; a certificate not the pinned one, ErrRelayPin.
func DialRelay(ctx context.Context, o RelayOptions) (*Relay, error) {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.Timeout(o.Timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ReconnectJitter(500*time.Millisecond, 2*time.Second),
		nats.PingInterval(20 * time.Second),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}),
	}
	switch {
	case o.Fingerprint != "":
		cfg, err := PinnedTLS(o.Fingerprint)
		if err != nil {
			return nil, err
		}
		opts = append(opts, nats.Secure(cfg))
	case o.TrustFirst:
		opts = append(opts, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}))
	}
	switch {
	case o.Claim != "":
		opts = append(opts, nats.UserInfo(RelayClaimUser, o.Claim))
	case o.Guest && o.Creds == "":
		opts = append(opts, nats.UserInfo(RelayGuestUser, RelayGuestPassword))
	case o.Creds != "":
		more, err := credsOptions(o.Creds)
		if err != nil {
			return nil, err
		}
		opts = append(opts, more...)
	case o.DeviceSeed != nil:
		kp, err := DeviceNKey(o.DeviceSeed)
		if err != nil {
			return nil, err
		}
		pub, _ := kp.PublicKey()
		opts = append(opts, nats.Nkey(pub, kp.Sign))
	}
	nc, err := nats.Connect(o.URL, opts...)
	for try := 0; err != nil && try < 3 && isAuthError(err) && o.Claim == ""; try++ {
		// A relay applying a new list of computers turns away whoever is
		// connecting at that moment: try again before saying no.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
		nc, err = nats.Connect(o.URL, opts...)
	}
	if err != nil {
		return nil, relayError(o.URL, err)
	}
	if o.Replicas == 0 {
		// A cluster keeps three copies of each stream it is asked to
		// make: one server lost loses nothing.
		o.Replicas = 1
		if nc.ConnectedClusterName() != "" && len(nc.Servers()) >= 3 {
			o.Replicas = 3
		}
	}
	r := &Relay{nc: nc, vaultID: o.VaultID, url: o.URL, ids: map[string]string{}, replicas: o.Replicas}
	if o.Claim != "" {
		return r, nil
	}
	r.js, err = jetstream.New(nc, jetstream.WithDefaultTimeout(o.Timeout))
	if err != nil {
		nc.Close()
		return nil, err
	}
	if r.pair, err = r.openStream(ctx, RelayPairStreamConfig(o.Replicas)); err != nil {
		nc.Close()
		return nil, err
	}
	if o.VaultID != "" {
		r.vault = RelayVaultName(o.VaultID)
		if r.stream, err = r.openStream(ctx, RelayStreamConfig(r.vault, o.Replicas)); err != nil {
			nc.Close()
			return nil, err
		}
	}
	return r, nil
}

func isAuthError(err error) bool {
	return errors.Is(err, nats.ErrAuthorization) || strings.Contains(strings.ToLower(err.Error()), "authorization")
}

// relayError says what went wrong reaching url.
func relayError(url string, err error) error {
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrMsgNotFound):
		return fmt.Errorf("relay %s: %w", url, err)
	case errors.Is(err, ErrRelayPin) || strings.Contains(err.Error(), ErrRelayPin.Error()):
		return fmt.Errorf("%s: %w", url, ErrRelayPin)
	case errors.Is(err, nats.ErrNkeysNotSupported):
		return fmt.Errorf("%s: %w (the relay admits no computer by its key yet: has an admin claimed it?)", url, ErrRelayRefused)
	case isAuthError(err) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked):
		return fmt.Errorf("%s: %w (not admitted: is this computer paired, or was it revoked?)", url, ErrRelayRefused)
	case errors.Is(err, nats.ErrPermissionViolation) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return fmt.Errorf("%s: %w: %v", url, ErrRelayRefused, err)
	}
	return fmt.Errorf("the relay at %s cannot be reached (%v): %w", url, err, ErrUnreachable)
}

// openStream finds a stream, or makes it where this computer may (a
// stock NATS server; relay serve makes its own).
func (r *Relay) openStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	st, err := r.js.Stream(ctx, cfg.Name)
	if err == nil {
		return st, nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, relayError(r.url, err)
	}
	st, err = r.js.CreateStream(ctx, cfg)
	if err != nil {
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return r.js.Stream(ctx, cfg.Name)
		}
		return nil, fmt.Errorf("the relay has no place for this practice and this computer may not make one (%v): %w", err, ErrRelayRefused)
	}
	return st, nil
}

// Close disconnects.
func (r *Relay) Close() { r.nc.Close() }

// PairingOnly reports whether the connection reaches pairing files only.
func (r *Relay) PairingOnly() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stream == nil
}

// URL is the address the connection was made to.
func (r *Relay) URL() string { return r.url }

// PeerFingerprint is the fingerprint of the certificate the relay showed
// ("" over a connection without TLS).
func (r *Relay) PeerFingerprint() string {
	cs, err := r.nc.TLSConnectionState()
	if err != nil || len(cs.PeerCertificates) == 0 {
		return ""
	}
	return CertFingerprint(cs.PeerCertificates[0])
}

// Conn is the NATS connection (for relay control requests).
func (r *Relay) Conn() *nats.Conn { return r.nc }

// Connected reports whether the relay is reachable now.
func (r *Relay) Connected() bool { return r.nc.IsConnected() }

// Check reports ErrUnreachable while the relay is not connected.
func (r *Relay) Check() error {
	if !r.nc.IsConnected() {
		return fmt.Errorf("the relay at %s cannot be reached now: %w", r.url, ErrUnreachable)
	}
	return nil
}

// ErrNoRelayControl means no one answers relay serve's control
// requests: a stock NATS server, whose operator admits computers.
var ErrNoRelayControl = errors.New("sync: this NATS server is not a relay made by clinicvault relay serve")

// Request sends a control request (relay serve's claim and access list)
// and returns its answer.
func (r *Relay) Request(subject string, data []byte) (string, error) {
	m, err := r.nc.Request(subject, data, r.nc.Opts.Timeout)
	if errors.Is(err, nats.ErrNoResponders) {
		return "", ErrNoRelayControl
	}
	if err != nil {
		return "", relayError(r.url, err)
	}
	return strings.TrimSpace(string(m.Data)), nil
}
