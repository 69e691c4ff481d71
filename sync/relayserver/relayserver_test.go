package relayserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

const testVaultID = "7d1c0b9e-0000-4000-8000-000000000001"

var vault = cvsync.RelayVaultName(testVaultID)

// device is a computer as the relay sees it: an NKey from its device key
// and its opaque name.
type device struct {
	kp   nkeys.KeyPair
	pub  string
	name string
}

func newDevice(t *testing.T) device {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kp, err := cvsync.DeviceNKey(priv.Seed())
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	id := make([]byte, 8)
	rand.Read(id)
	return device{kp: kp, pub: pub, name: cvsync.RelayDeviceName(testVaultID, hex.EncodeToString(id))}
}

func accessList(t *testing.T, vault string, version int64, signer device, members ...device) *cvsync.RelayAccess {
	t.Helper()
	a := &cvsync.RelayAccess{Vault: vault, Version: version, Admins: []string{signer.pub}}
	for _, m := range members {
		a.Members = append(a.Members, cvsync.RelayMember{NKey: m.pub, Device: m.name})
	}
	if err := a.Sign(signer.kp); err != nil {
		t.Fatal(err)
	}
	return a
}

// startRelay runs a relay on a free loopback port, shut down when the
// test ends.
func startRelay(t *testing.T, storeDir string) *Relay {
	t.Helper()
	var mu sync.Mutex
	done := false
	t.Cleanup(func() { mu.Lock(); done = true; mu.Unlock() })
	r, err := Start(Options{Listen: "127.0.0.1:0", Store: storeDir, Logf: func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		if !done {
			t.Logf(f, a...)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Shutdown)
	return r
}

// pinned trusts exactly the certificate with fingerprint fp, as
// computers do; names are not checked.
func pinned(fp string) *tls.Config {
	return &tls.Config{
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if "sha256:"+hex.EncodeToString(sum[:]) != fp {
				return errors.New("certificate does not match the pinned fingerprint")
			}
			return nil
		},
	}
}

func connect(r *Relay, opts ...nats.Option) (*nats.Conn, error) {
	opts = append([]nats.Option{nats.Secure(pinned(r.Fingerprint())), nats.Timeout(5 * time.Second),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})}, opts...)
	return nats.Connect(r.URL(), opts...)
}

func asDevice(d device) nats.Option { return nats.Nkey(d.pub, d.kp.Sign) }

func mustConnect(t *testing.T, r *Relay, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := connect(r, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func ask(t *testing.T, nc *nats.Conn, subject string, a *cvsync.RelayAccess) string {
	t.Helper()
	b, _ := json.Marshal(a)
	m, err := nc.Request(subject, b, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", subject, err)
	}
	return string(m.Data)
}

// claim claims r with code and a, returning the relay's answer.
func claim(t *testing.T, r *Relay, code string, a *cvsync.RelayAccess) string {
	t.Helper()
	nc := mustConnect(t, r, nats.UserInfo(cvsync.RelayClaimUser, code), nats.NoReconnect())
	defer nc.Close()
	return ask(t, nc, cvsync.RelayClaimSubject, a)
}

// claimed is a relay claimed with an access list of a and b, signed by a.
func claimed(t *testing.T) (r *Relay, a, b device, storeDir string) {
	t.Helper()
	storeDir = t.TempDir()
	r = startRelay(t, storeDir)
	a, b = newDevice(t), newDevice(t)
	if got := claim(t, r, r.ClaimCode(), accessList(t, vault, 1, a, a, b)); got != "ok" {
		t.Fatalf("claim: %q", got)
	}
	// Connections made while the relay drops the claim user may be
	// closed in their handshake (see claimSettle): wait it out.
	select {
	case <-r.claimGone:
	case <-time.After(2 * (claimGrace + claimSettle)):
		t.Fatal("the claim user stayed")
	}
	return r, a, b, storeDir
}

func js(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	j, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// publish stores a message and waits for the stream's ack. A refused
// publish gets no ack (the server only tells the connection), so it ends
// with the timeout.
func publish(j jetstream.JetStream, subject string, data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := j.Publish(ctx, subject, data)
	return err
}

// read is the newest message on subject in stream, by direct get.
func read(j jetstream.JetStream, stream, subject string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := j.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	m, err := s.GetLastMsgForSubject(ctx, subject)
	if err != nil {
		return nil, err
	}
	return m.Data, nil
}

func TestClaim(t *testing.T) {
	dir := t.TempDir()
	r := startRelay(t, dir)
	code, fp := r.ClaimCode(), r.Fingerprint()
	if !validClaimCode(code) || r.Access() != nil {
		t.Fatalf("unclaimed relay: code %q, access %v", code, r.Access())
	}
	if len(fp) != len("sha256:")+64 || !strings.HasPrefix(fp, "sha256:") || strings.ToLower(fp) != fp {
		t.Fatalf("fingerprint %q", fp)
	}
	for path, want := range map[string]os.FileMode{"claim": 0o600, "tls": 0o700 | os.ModeDir, "tls/key.pem": 0o600, "tls/cert.pem": 0o600} {
		if st, err := os.Stat(filepath.Join(dir, path)); err != nil || st.Mode() != want {
			t.Fatalf("%s: %v %v, want %v", path, st.Mode(), err, want)
		}
	}

	// The code and the certificate survive a restart until the claim.
	r.Shutdown()
	r = startRelay(t, dir)
	if r.ClaimCode() != code || r.Fingerprint() != fp {
		t.Fatalf("after restart: code %q fingerprint %q, were %q %q", r.ClaimCode(), r.Fingerprint(), code, fp)
	}

	if _, err := connect(r, nats.UserInfo(cvsync.RelayClaimUser, "0000-WRONG"), nats.NoReconnect()); err == nil {
		t.Fatal("claim user connected with a wrong code")
	}
	a, b, stranger := newDevice(t), newDevice(t), newDevice(t)
	// The claim user may claim and nothing else.
	nc := mustConnect(t, r, nats.UserInfo(cvsync.RelayClaimUser, code), nats.NoReconnect())
	if err := publish(js(t, nc), "cvpair.6869", []byte("x")); err == nil {
		t.Fatal("the claim user wrote a pairing file")
	}
	nc.Close()

	tampered := accessList(t, vault, 1, a, a, b)
	tampered.Members = tampered.Members[:1]
	notAdmin := accessList(t, vault, 1, stranger, a, b)
	notAdmin.Admins = []string{a.pub}
	if err := notAdmin.Sign(stranger.kp); err != nil {
		t.Fatal(err)
	}
	noAdmin := accessList(t, vault, 1, a, a, b)
	noAdmin.Admins = nil
	noAdmin.Sign(a.kp)
	for name, bad := range map[string]*cvsync.RelayAccess{
		"signer not an admin": notAdmin,
		"no admin":            noAdmin,
		"no version":          accessList(t, vault, 0, a, a, b),
		"no members":          accessList(t, vault, 1, a),
		"tampered":            tampered,
	} {
		if got := claim(t, r, code, bad); !strings.HasPrefix(got, "refused: ") {
			t.Fatalf("%s: claim answered %q", name, got)
		}
	}
	if r.ClaimCode() != code || r.Access() != nil {
		t.Fatal("a refused claim changed the relay")
	}
	if _, err := connect(r, asDevice(a), nats.NoReconnect()); err == nil {
		t.Fatal("a computer connected before the relay was claimed")
	}

	if got := claim(t, r, code, accessList(t, vault, 1, a, a, b)); got != "ok" {
		t.Fatalf("claim: %q", got)
	}
	if r.ClaimCode() != "" || r.Access() == nil || r.Access().Version != 1 || len(r.Access().Members) != 2 {
		t.Fatalf("after the claim: code %q access %+v", r.ClaimCode(), r.Access())
	}
	if _, err := os.Stat(filepath.Join(dir, "claim")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("claim file after the claim: %v", err)
	}
	if st, err := os.Stat(filepath.Join(dir, "access.json")); err != nil || st.Mode() != 0o600 {
		t.Fatalf("access.json: %v", err)
	}
	mustConnect(t, r, asDevice(a)).Close()

	// While the claim user lingers for the claimer (claimGrace), the used
	// code gets nothing but a refusal.
	if nc, err := connect(r, nats.UserInfo(cvsync.RelayClaimUser, code), nats.NoReconnect()); err == nil {
		got := ask(t, nc, cvsync.RelayClaimSubject, accessList(t, vault, 1, stranger, stranger))
		nc.Close()
		if !strings.HasPrefix(got, "refused: ") {
			t.Fatalf("second claim answered %q", got)
		}
	}
	// No second claim: the claim user is gone, now and after a restart.
	select {
	case <-r.claimGone:
	case <-time.After(2 * (claimGrace + claimSettle)):
		t.Fatal("the claim user stayed")
	}
	if _, err := connect(r, nats.UserInfo(cvsync.RelayClaimUser, code), nats.NoReconnect()); err == nil {
		t.Fatal("claim user connected after the claim")
	}
	r.Shutdown()
	r = startRelay(t, dir)
	if r.ClaimCode() != "" || r.Access() == nil || r.Fingerprint() != fp {
		t.Fatalf("after restart: code %q access %v", r.ClaimCode(), r.Access())
	}
	if _, err := connect(r, nats.UserInfo(cvsync.RelayClaimUser, code), nats.NoReconnect()); err == nil {
		t.Fatal("claim user connected after the claim and a restart")
	}
	mustConnect(t, r, asDevice(b)).Close()
}

func TestNormalizeClaimCode(t *testing.T) {
	for in, want := range map[string]string{
		"7K2QM-X0D9F-RT4ZA-1HC8W":    "7K2QM-X0D9F-RT4ZA-1HC8W",
		" 7k2qm x0d9f rt4za 1hc8w\n": "7K2QM-X0D9F-RT4ZA-1HC8W",
		"7k2qmxod9frt4zalhc8w":       "7K2QM-X0D9F-RT4ZA-1HC8W",
		"7K2QM-X0D9F-RT4ZA":          "7K2QM-X0D9F-RT4ZA",
		"7K2QM-X0D9F-RT4ZA-1HC8U":    "7K2QM-X0D9F-RT4ZA-1HC8U",
	} {
		if got := NormalizeClaimCode(in); got != want {
			t.Errorf("NormalizeClaimCode(%q) = %q, want %q", in, got, want)
		}
	}
	code, err := newClaimCode()
	if err != nil || NormalizeClaimCode(strings.ToLower(code)) != code {
		t.Fatalf("code %q: %v", code, err)
	}
}

func TestCertificateKeptOrRefused(t *testing.T) {
	dir := t.TempDir()
	// A first start cut short after the key: a new certificate.
	os.MkdirAll(filepath.Join(dir, "tls"), 0o700)
	os.WriteFile(filepath.Join(dir, "tls", "key.pem"), []byte("half"), 0o600)
	r := startRelay(t, dir)
	fp := r.Fingerprint()
	r.Shutdown()
	// A damaged certificate is not replaced behind the computers' backs.
	os.WriteFile(filepath.Join(dir, "tls", "cert.pem"), []byte("damaged"), 0o600)
	if _, err := Start(Options{Listen: "127.0.0.1:0", Store: dir}); err == nil {
		t.Fatalf("started with a damaged certificate (was %s)", fp)
	}
}

func TestMemberReachesOnlyItsOwn(t *testing.T) {
	r, a, b, _ := claimed(t)
	ja := js(t, mustConnect(t, r, asDevice(a)))
	stream := cvsync.RelayStream(vault)

	mine := cvsync.BatchSubject(vault, a.name, 1)
	if err := publish(ja, mine, []byte("sealed batch")); err != nil {
		t.Fatalf("publish own batch: %v", err)
	}
	if got, err := read(ja, stream, mine); err != nil || string(got) != "sealed batch" {
		t.Fatalf("read own batch: %q %v", got, err)
	}
	if err := publish(ja, "cv."+vault+".d."+a.name, []byte("id")); err != nil {
		t.Fatalf("publish own id: %v", err)
	}

	theirs := cvsync.BatchSubject(vault, b.name, 1)
	if err := publish(ja, theirs, []byte("forged")); err == nil {
		t.Fatal("a member wrote into another member's batches")
	}
	if err := publish(ja, "cv."+vault+".d."+b.name, []byte("forged")); err == nil {
		t.Fatal("a member wrote another member's id")
	}
	if _, err := read(ja, stream, theirs); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("forged batch: %v", err)
	}

	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		t.Cleanup(cancel)
		return ctx
	}
	if err := ja.DeleteStream(short(), stream); err == nil {
		t.Fatal("a member deleted the vault's stream")
	}
	s, err := ja.Stream(short(), stream)
	if err != nil {
		t.Fatalf("stream after delete attempt: %v", err)
	}
	if err := s.Purge(short()); err == nil {
		t.Fatal("a member purged the vault's stream")
	}
	if _, err := ja.CreateOrUpdateStream(short(), jetstream.StreamConfig{Name: "MINE", Subjects: []string{"mine.>"}}); err == nil {
		t.Fatal("a member made a stream")
	}
	if got, err := read(ja, stream, mine); err != nil || string(got) != "sealed batch" {
		t.Fatalf("own batch after delete and purge attempts: %q %v", got, err)
	}
}

func TestStrangerAndGuest(t *testing.T) {
	r, a, _, _ := claimed(t)
	if _, err := connect(r, asDevice(newDevice(t)), nats.NoReconnect()); err == nil {
		t.Fatal("a computer not on the list connected")
	}
	if _, err := connect(r, nats.NoReconnect()); err == nil {
		t.Fatal("connected without credentials")
	}
	if _, err := connect(r, nats.UserInfo(adminUser, ""), nats.NoReconnect()); err == nil {
		t.Fatal("connected as the control user without its password")
	}

	jg := js(t, mustConnect(t, r, nats.UserInfo(cvsync.RelayGuestUser, GuestPassword)))
	pairing := "cvpair." + hex.EncodeToString([]byte("abc")) + "." + hex.EncodeToString([]byte("offer"))
	if err := publish(jg, pairing, []byte("sealed offer")); err != nil {
		t.Fatalf("guest writes a pairing file: %v", err)
	}
	if got, err := read(jg, cvsync.RelayPairStream, pairing); err != nil || string(got) != "sealed offer" {
		t.Fatalf("guest reads a pairing file: %q %v", got, err)
	}
	if err := publish(jg, cvsync.BatchSubject(vault, a.name, 7), []byte("forged")); err == nil {
		t.Fatal("the guest wrote a batch")
	}
	if _, err := read(jg, cvsync.RelayStream(vault), cvsync.BatchSubject(vault, a.name, 7)); err == nil {
		t.Fatal("the guest read the vault's stream")
	}
	// A member sees the pairing file too, and no forged batch.
	ja := js(t, mustConnect(t, r, asDevice(a)))
	if got, err := read(ja, cvsync.RelayPairStream, pairing); err != nil || string(got) != "sealed offer" {
		t.Fatalf("member reads a pairing file: %q %v", got, err)
	}
	if _, err := read(ja, cvsync.RelayStream(vault), cvsync.BatchSubject(vault, a.name, 7)); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Fatalf("forged batch: %v", err)
	}
}

func TestAccessUpdateRevokes(t *testing.T) {
	r, a, b, dir := claimed(t)
	c := newDevice(t)
	nca := mustConnect(t, r, asDevice(a))

	disconnected, closed := make(chan struct{}, 1), make(chan struct{})
	ncb := mustConnect(t, r, asDevice(b), nats.ReconnectWait(50*time.Millisecond), nats.MaxReconnects(3),
		nats.DisconnectErrHandler(func(*nats.Conn, error) {
			select {
			case disconnected <- struct{}{}:
			default:
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err := publish(js(t, ncb), cvsync.BatchSubject(vault, b.name, 1), []byte("b1")); err != nil {
		t.Fatalf("b publishes before revocation: %v", err)
	}

	refused := map[string]*cvsync.RelayAccess{
		"same version":        accessList(t, vault, 1, a, a),
		"signed by nonmember": accessList(t, vault, 2, c, a, c),
		"other vault":         accessList(t, cvsync.RelayVaultName("other"), 2, a, a),
	}
	for name, bad := range refused {
		if got := ask(t, nca, cvsync.RelayAccessSubject, bad); !strings.HasPrefix(got, "refused: ") {
			t.Fatalf("%s: update answered %q", name, got)
		}
	}
	if r.Access().Version != 1 {
		t.Fatal("a refused update changed the list")
	}
	// The very list the relay holds, sent again (by another computer):
	// "ok", it has it. Another list at its version is "not newer", which
	// the computers show.
	if got := ask(t, nca, cvsync.RelayAccessSubject, accessList(t, vault, 1, a, a, b)); got != "ok" {
		t.Fatalf("resent list answered %q", got)
	}
	if got := ask(t, nca, cvsync.RelayAccessSubject, accessList(t, vault, 1, a, a)); !strings.Contains(got, "not newer") {
		t.Fatalf("another list at the same version answered %q", got)
	}

	if got := ask(t, nca, cvsync.RelayAccessSubject, accessList(t, vault, 2, a, a)); got != "ok" {
		t.Fatalf("update: %q", got)
	}
	select {
	case <-disconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked computer stayed connected")
	}
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("the revoked computer's reconnects did not give up")
	}
	if ncb.IsConnected() {
		t.Fatal("the revoked computer is connected")
	}
	if _, err := connect(r, asDevice(b), nats.NoReconnect()); err == nil {
		t.Fatal("the revoked computer connected again")
	}
	// The member that stayed keeps its connection.
	if !nca.IsConnected() {
		t.Fatal("the remaining member was disconnected")
	}
	if err := publish(js(t, nca), cvsync.BatchSubject(vault, a.name, 1), []byte("a1")); err != nil {
		t.Fatalf("remaining member publishes: %v", err)
	}

	for name, bad := range map[string]*cvsync.RelayAccess{
		"old version":        accessList(t, vault, 2, a, a, b),
		"older version":      accessList(t, vault, 1, a, a, b),
		"signed by revoked":  accessList(t, vault, 3, b, a, b),
		"signed by stranger": accessList(t, vault, 3, c, a, c),
	} {
		if got := ask(t, nca, cvsync.RelayAccessSubject, bad); !strings.HasPrefix(got, "refused: ") {
			t.Fatalf("%s: update answered %q", name, got)
		}
	}

	// A later list, signed by a member, adds c; the list survives a restart.
	if got := ask(t, nca, cvsync.RelayAccessSubject, accessList(t, vault, 3, a, a, c)); got != "ok" {
		t.Fatalf("update adding c: %q", got)
	}
	mustConnect(t, r, asDevice(c)).Close()
	r.Shutdown()
	r = startRelay(t, dir)
	if v := r.Access().Version; v != 3 {
		t.Fatalf("version after restart: %d", v)
	}
	mustConnect(t, r, asDevice(c)).Close()
	if _, err := connect(r, asDevice(b), nats.NoReconnect()); err == nil {
		t.Fatal("the revoked computer connected after a restart")
	}
}

func TestDataSurvivesRestart(t *testing.T) {
	r, a, _, dir := claimed(t)
	nc := mustConnect(t, r, asDevice(a))
	ja := js(t, nc)
	for i := uint64(1); i <= 3; i++ {
		if err := publish(ja, cvsync.BatchSubject(vault, a.name, i), fmt.Appendf(nil, "batch %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	big := bytes.Repeat([]byte{0xA5}, 7<<20) // near MaxPayload
	if err := publish(ja, cvsync.BatchSubject(vault, a.name, 4), big); err != nil {
		t.Fatalf("publish 7 MiB: %v", err)
	}
	nc.Close()
	r.Shutdown()

	r = startRelay(t, dir)
	ja = js(t, mustConnect(t, r, asDevice(a)))
	for i := uint64(1); i <= 3; i++ {
		got, err := read(ja, cvsync.RelayStream(vault), cvsync.BatchSubject(vault, a.name, i))
		if err != nil || string(got) != fmt.Sprintf("batch %d", i) {
			t.Fatalf("batch %d after restart: %q %v", i, got, err)
		}
	}
	if got, err := read(ja, cvsync.RelayStream(vault), cvsync.BatchSubject(vault, a.name, 4)); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("7 MiB batch after restart: %d bytes, %v", len(got), err)
	}
}

func TestTLSIsRequiredAndPinned(t *testing.T) {
	r, a, _, _ := claimed(t)
	if _, err := nats.Connect(r.URL(), asDevice(a), nats.NoReconnect(), nats.Timeout(5*time.Second)); err == nil {
		t.Fatal("connected without TLS")
	}
	wrong := "sha256:" + strings.Repeat("0", 64)
	if _, err := nats.Connect(r.URL(), asDevice(a), nats.Secure(pinned(wrong)), nats.NoReconnect(), nats.Timeout(5*time.Second)); err == nil {
		t.Fatal("connected while pinning another certificate")
	}
	// Plain TLS verification fails too: the certificate is self-signed.
	if _, err := nats.Connect(r.URL(), asDevice(a), nats.Secure(&tls.Config{}), nats.NoReconnect(), nats.Timeout(5*time.Second)); err == nil {
		t.Fatal("a self-signed certificate passed verification")
	}
	mustConnect(t, r, asDevice(a)).Close()
}

func TestListen(t *testing.T) {
	r := startRelay(t, t.TempDir())
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(r.URL(), "nats://"))
	if !strings.HasPrefix(r.URL(), "nats://127.0.0.1:") || port == "0" {
		t.Fatalf("URL %q", r.URL())
	}
	_, err := Start(Options{Listen: "127.0.0.1:" + port, Store: t.TempDir(), NoTLS: true})
	if err == nil || !strings.Contains(err.Error(), "another program is using port "+port) {
		t.Fatalf("second relay on port %s: %v", port, err)
	}

	all, err := Start(Options{Listen: "0.0.0.0:0", Store: t.TempDir(), NoTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Shutdown()
	if all.Fingerprint() != "" || strings.Contains(all.URL(), "0.0.0.0") || strings.HasSuffix(all.URL(), ":0") {
		t.Fatalf("relay on all addresses: URL %q fingerprint %q", all.URL(), all.Fingerprint())
	}
	nc, err := nats.Connect(all.URL(), nats.UserInfo(cvsync.RelayGuestUser, GuestPassword), nats.NoReconnect())
	if err != nil {
		t.Fatalf("connect to %s: %v", all.URL(), err)
	}
	nc.Close()
}
