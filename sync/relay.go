package sync

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Relay is the relay transport: a NATS JetStream server or cluster that
// every computer of the practice reaches (relaynames.go says what it
// holds). It keeps the folder's promises: a batch's place is written
// once (a per-subject "last sequence" check), a republish is a no-op
// (message ids), and Watch hears a change the moment it is stored.
type Relay struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	vaultID string
	vault   string // RelayVaultName
	stream  jetstream.Stream
	pair    jetstream.Stream
	url     string

	replicas int

	mu  gosync.Mutex
	ids map[string]string // device name → device id
}

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
	want, err := hex.DecodeString(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(fingerprint)), "sha256:"))
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("sync: %q is not a relay fingerprint (sha256: and 64 hex digits)", fingerprint)
	}
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

func (r *Relay) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), r.nc.Opts.Timeout*2)
}

func (r *Relay) streamFor(subject string) (jetstream.Stream, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if strings.HasPrefix(subject, "cvpair.") {
		return r.pair, nil
	}
	if r.stream == nil {
		return nil, errors.New("sync: this relay connection is for pairing only")
	}
	return r.stream, nil
}

// lostStreams reports whether err says the relay no longer has the
// streams (its disk was wiped, or an operator deleted them), and if so
// finds or makes them again: the caller tries once more, and the
// computers refill what the relay lost.
func (r *Relay) lostStreams(err error) bool {
	if !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrNoStreamResponse) &&
		!errors.Is(err, nats.ErrNoResponders) {
		return false
	}
	ctx, cancel := r.ctx()
	defer cancel()
	pair, err := r.openStream(ctx, RelayPairStreamConfig(r.replicas))
	if err != nil {
		return false
	}
	var st jetstream.Stream
	if r.vault != "" {
		if st, err = r.openStream(ctx, RelayStreamConfig(r.vault, r.replicas)); err != nil {
			return false
		}
	}
	r.mu.Lock()
	r.pair = pair
	clear(r.ids) // the computers' ids are to be written again
	if st != nil {
		r.stream = st
	}
	r.mu.Unlock()
	return true
}

// minChunk is the least a long message's head carries (a NATS server
// takes 1 MB a message unless told otherwise; one that takes less than
// 40 KB is not one ClinicVault can use).
const minChunk = 32 << 10

// maxRelayMessage bounds what one message read from the relay may add up
// to: a batch's envelope at most, and a little room.
const maxRelayMessage = maxEnvelope + 1<<20

// Headers of the messages the relay holds.
const (
	hdrParts   = "Cv-Parts"   // a long message's number of parts
	hdrRemoved = "Cv-Removed" // a path removed (the relay keeps the place)
)

// chunk is the most one message carries: below the server's limit.
func (r *Relay) chunk() int {
	n := int(r.nc.MaxPayload()) - 8<<10 // room for the headers
	return max(n, minChunk)
}

// put stores data at subject: once (ErrExists when the place is taken)
// or replacing what is there.
func (r *Relay) put(subject string, data []byte, once bool) error {
	err := r.put1(subject, data, once)
	if err != nil && r.lostStreams(err) {
		err = r.put1(subject, data, once)
	}
	return err
}

func (r *Relay) put1(subject string, data []byte, once bool) error {
	if err := r.Check(); err != nil {
		return err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	head := data
	msg := nats.NewMsg(subject)
	if n := r.chunk(); len(data) > n {
		parts := (len(data) + n - 1) / n
		head = data[:n]
		for i := 1; i < parts; i++ {
			end := min((i+1)*n, len(data))
			pm := nats.NewMsg(partSubject(subject, i))
			pm.Data = data[i*n : end]
			if _, err := r.js.PublishMsg(ctx, pm); err != nil {
				return r.publishError(subject, err)
			}
		}
		msg.Header.Set(hdrParts, strconv.Itoa(parts))
	}
	msg.Data = head
	sum := sha256.Sum256(data)
	// A republish of the same bytes (a retry after a cut) is dropped by
	// the relay as a duplicate instead of refused.
	msg.Header.Set(jetstream.MsgIDHeader, subject+"/"+hex.EncodeToString(sum[:12]))
	var popts []jetstream.PublishOpt
	if once {
		popts = append(popts, jetstream.WithExpectLastSequencePerSubject(0))
	}
	if _, err := r.js.PublishMsg(ctx, msg, popts...); err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			return fmt.Errorf("sync: %s: %w", subject, ErrExists)
		}
		return r.publishError(subject, err)
	}
	return nil
}

func (r *Relay) publishError(subject string, err error) error {
	if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("relay: %s: %w", subject, err) // lostStreams looks at it
	}
	if !r.nc.IsConnected() {
		return fmt.Errorf("the relay at %s went away while sending (%v): %w", r.url, err, ErrUnreachable)
	}
	if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrNoStreamResponse) {
		if last := r.nc.LastError(); last != nil && strings.Contains(strings.ToLower(last.Error()), "permission") {
			return fmt.Errorf("%s: %w: %v", subject, ErrRelayRefused, last)
		}
		return fmt.Errorf("the relay at %s did not confirm %s in time (%v): %w", r.url, subject, err, ErrUnreachable)
	}
	return fmt.Errorf("relay: %s: %w", subject, err)
}

// get reads what subject holds (os.ErrNotExist when nothing).
func (r *Relay) get(subject string) ([]byte, error) {
	data, err := r.get1(subject)
	if err != nil && r.lostStreams(err) {
		data, err = r.get1(subject)
	}
	return data, err
}

func (r *Relay) get1(subject string) ([]byte, error) {
	st, err := r.streamFor(subject)
	if err != nil {
		return nil, err
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	m, err := st.GetLastMsgForSubject(ctx, subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, fmt.Errorf("relay: %s: %w", subject, os.ErrNotExist)
	}
	if err != nil {
		return nil, relayError(r.url, err)
	}
	if m.Header.Get(hdrRemoved) != "" {
		return nil, fmt.Errorf("relay: %s: %w", subject, os.ErrNotExist)
	}
	parts, _ := strconv.Atoi(m.Header.Get(hdrParts))
	if parts <= 1 {
		return m.Data, nil
	}
	// Nothing the relay holds is longer than a batch may be: a message
	// claiming more parts, or parts adding up to more, is not read on.
	if len(m.Data) < minChunk || parts > maxRelayMessage/len(m.Data)+1 {
		return nil, fmt.Errorf("relay: %s claims %d parts of %d bytes: %w", subject, parts, len(m.Data), ErrMalformed)
	}
	buf := bytes.NewBuffer(append([]byte(nil), m.Data...))
	for i := 1; i < parts; i++ {
		pm, err := st.GetLastMsgForSubject(ctx, partSubject(subject, i))
		if err != nil {
			return nil, fmt.Errorf("relay: %s: part %d of %d missing (%v): %w", subject, i+1, parts, err, os.ErrNotExist)
		}
		if buf.Len()+len(pm.Data) > maxRelayMessage {
			return nil, fmt.Errorf("relay: %s is longer than any batch: %w", subject, ErrMalformed)
		}
		buf.Write(pm.Data)
	}
	return buf.Bytes(), nil
}

// subjects lists the subjects matching filter.
func (r *Relay) subjects(filter string) ([]string, error) {
	out, err := r.subjects1(filter)
	if err != nil && r.lostStreams(err) {
		out, err = r.subjects1(filter)
	}
	return out, err
}

func (r *Relay) subjects1(filter string) ([]string, error) {
	st, err := r.streamFor(filter)
	if err != nil {
		return nil, err
	}
	if err := r.Check(); err != nil {
		return nil, err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, relayError(r.url, err)
	}
	out := make([]string, 0, len(info.State.Subjects))
	for s := range info.State.Subjects {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

func (r *Relay) needVault() error {
	if r.stream == nil {
		return errors.New("sync: this relay connection is for pairing only")
	}
	return nil
}

// Put writes a device's batch, once.
func (r *Relay) Put(device string, seq uint64, env []byte) error {
	if err := r.needVault(); err != nil {
		return err
	}
	name := RelayDeviceName(r.vaultID, device)
	r.mu.Lock()
	_, known := r.ids[name]
	r.mu.Unlock()
	if !known {
		// Its id, for Devices: the relay's subjects name it only by hash.
		err := r.put("cv."+r.vault+".d."+name, []byte(device), true)
		if err != nil && !errors.Is(err, ErrExists) {
			return err
		}
		r.mu.Lock()
		r.ids[name] = device
		r.mu.Unlock()
	}
	return r.put(BatchSubject(r.vault, name, seq), env, true)
}

// ReplaceBatch writes env over a device's place (its own log only).
func (r *Relay) ReplaceBatch(device string, seq uint64, env []byte) error {
	if err := r.needVault(); err != nil {
		return err
	}
	return r.put(BatchSubject(r.vault, RelayDeviceName(r.vaultID, device), seq), env, false)
}

// Get reads a device's batch.
func (r *Relay) Get(device string, seq uint64) ([]byte, error) {
	if err := r.needVault(); err != nil {
		return nil, err
	}
	return r.get(BatchSubject(r.vault, RelayDeviceName(r.vaultID, device), seq))
}

// Devices lists the devices that have written batches. A name whose id
// does not hash to it is skipped (planted by someone).
func (r *Relay) Devices() ([]string, error) {
	if err := r.needVault(); err != nil {
		return nil, err
	}
	subs, err := r.subjects("cv." + r.vault + ".d.*")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range subs {
		name := s[strings.LastIndexByte(s, '.')+1:]
		r.mu.Lock()
		id, ok := r.ids[name]
		r.mu.Unlock()
		if !ok {
			data, err := r.get(s)
			if err != nil {
				continue
			}
			id = string(data)
			if _, err := parseUUID(id); err != nil || RelayDeviceName(r.vaultID, id) != name {
				continue
			}
			r.mu.Lock()
			r.ids[name] = id
			r.mu.Unlock()
		}
		out = append(out, id)
	}
	sort.Strings(out)
	return out, nil
}

// Seqs lists a device's batch numbers above after, in order.
func (r *Relay) Seqs(device string, after uint64) ([]uint64, error) {
	if err := r.needVault(); err != nil {
		return nil, err
	}
	prefix := "cv." + r.vault + ".b." + RelayDeviceName(r.vaultID, device) + "."
	subs, err := r.subjects(prefix + "*")
	if err != nil {
		return nil, err
	}
	var out []uint64
	for _, s := range subs {
		if n, err := strconv.ParseUint(strings.TrimPrefix(s, prefix), 10, 64); err == nil && n > after {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// WriteOnce writes a path that is never rewritten (ErrExists).
func (r *Relay) WriteOnce(rel string, data []byte) error {
	subj, err := pathSubject(r.vault, rel)
	if err != nil {
		return err
	}
	if err := r.pathAllowed(subj); err != nil {
		return err
	}
	return r.put(subj, data, true)
}

// Replace writes a path over what is there.
func (r *Relay) Replace(rel string, data []byte) error {
	subj, err := pathSubject(r.vault, rel)
	if err != nil {
		return err
	}
	if err := r.pathAllowed(subj); err != nil {
		return err
	}
	return r.put(subj, data, false)
}

func (r *Relay) pathAllowed(subj string) error {
	if !strings.HasPrefix(subj, "cvpair.") {
		return r.needVault()
	}
	return nil
}

// Read reads a path (os.ErrNotExist when it is not there).
func (r *Relay) Read(rel string) ([]byte, error) {
	subj, err := pathSubject(r.vault, rel)
	if err != nil {
		return nil, err
	}
	return r.get(subj)
}

// children lists the next path element under dir: files (no deeper
// tokens) or folders.
func (r *Relay) children(dir string, folders bool) ([]string, error) {
	subj, err := pathSubject(r.vault, dir)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(subj, "cv.") && r.stream == nil {
		return nil, nil
	}
	subs, err := r.subjects(subj + ".>")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range subs {
		rest := strings.Split(strings.TrimPrefix(s, subj+"."), ".")
		if folders != (len(rest) > 1) {
			continue
		}
		b, err := hex.DecodeString(rest[0])
		if err != nil || seen[string(b)] {
			continue
		}
		seen[string(b)] = true
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out, nil
}

// List returns the names of the files in dir.
func (r *Relay) List(dir string) ([]string, error) { return r.children(dir, false) }

// Dirs returns the names of the folders within dir.
func (r *Relay) Dirs(dir string) ([]string, error) { return r.children(dir, true) }

// Remove marks a path removed: members may not delete from the stream,
// so the place keeps an empty marker (pairing files also age out).
func (r *Relay) Remove(rel string) error {
	subj, err := pathSubject(r.vault, rel)
	if err != nil {
		return err
	}
	if err := r.pathAllowed(subj); err != nil {
		return err
	}
	if err := r.Check(); err != nil {
		return err
	}
	ctx, cancel := r.ctx()
	defer cancel()
	msg := nats.NewMsg(subj)
	msg.Header.Set(hdrRemoved, "1")
	_, err = r.js.PublishMsg(ctx, msg)
	if err != nil {
		return r.publishError(subj, err)
	}
	return nil
}

// Epochs lists the key epochs the relay holds files for, in order.
func (r *Relay) Epochs() ([]uint32, error) {
	names, err := r.Dirs("epochs")
	if err != nil {
		return nil, err
	}
	var out []uint32
	for _, n := range names {
		if e, err := strconv.ParseUint(n, 10, 32); err == nil {
			out = append(out, uint32(e))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Watch calls changed whenever the relay stores anything of the vault
// (a subscription: no polling), when the connection comes back, and
// every poll besides. It returns when ctx ends.
func (r *Relay) Watch(ctx context.Context, poll time.Duration, changed func()) {
	kick := make(chan struct{}, 1)
	poke := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	subject := "cvpair.>"
	if r.stream != nil {
		subject = RelaySubjects(r.vault)
	}
	sub, err := r.nc.Subscribe(subject, func(*nats.Msg) { poke() })
	if err == nil {
		defer sub.Unsubscribe()
	}
	r.nc.SetReconnectHandler(func(*nats.Conn) { poke() })
	defer r.nc.SetReconnectHandler(nil)
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-kick:
			changed()
		case <-tick.C:
			changed()
		}
	}
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

var _ Transport = (*Relay)(nil)
