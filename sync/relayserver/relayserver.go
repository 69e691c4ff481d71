// Package relayserver runs a practice's relay: an embedded NATS server
// with JetStream that holds the sealed batches ClinicVault computers sync
// through (see the relay names in package sync).
//
// The relay admits the computers on a signed access list and, with a
// fixed password, a guest that may touch pairing files only. Until a
// computer claims it with the one-time claim code it printed, the relay
// has no list; the first list, and every later one, is signed by a
// computer on it, so whoever runs the relay cannot add a computer of
// their own. Connections use TLS with a self-signed certificate that
// computers pin by its fingerprint.
package relayserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultListen is where a relay listens unless told otherwise.
const DefaultListen = "0.0.0.0:4222"

// MaxPayload is the largest message the relay takes; longer batches are
// sent in parts (see package sync).
const MaxPayload = 8 << 20

// serverName is the embedded server's name; JetStream keeps its state
// under it, so it never changes.
const serverName = "clinicvault-relay"

// adminUser is the in-process connection that creates streams and
// answers the control subjects. Its password is random on each start and
// never leaves the process.
const adminUser = "relay-admin"

// GuestPassword is RelayGuestUser's password: no secret, since the guest
// may touch sealed pairing files only.
const GuestPassword = cvsync.RelayGuestPassword

// Options says where and how a relay runs.
type Options struct {
	Listen string // host:port; DefaultListen when empty; port 0 picks a free one
	Store  string // directory: JetStream file store, TLS cert/key, access list, claim code
	NoTLS  bool   // tests only
	// Logf, when set, receives the server's errors. Nothing the relay
	// holds is readable to it, so no patient data can reach the log.
	Logf func(format string, args ...any)
}

// Relay is a running relay.
type Relay struct {
	opts        Options
	host        string // as asked for in Listen
	base        *server.Options
	srv         *server.Server
	nc          *nats.Conn // in-process, as adminUser
	js          jetstream.JetStream
	fingerprint string

	mu        sync.Mutex // guards access, claim and claimUser, and orders reloads
	access    *cvsync.RelayAccess
	claim     string        // the claim code while unclaimed
	claimUser string        // the used claim code, until dropClaimUser
	claimGone chan struct{} // closed once the claim user is gone
	stopped   bool
	done      chan struct{} // closed by Shutdown
	stopOnce  sync.Once

	fatalMu sync.Mutex
	fatal   string // the server's last fatal error, if any
}

// Start runs a relay until Shutdown. It returns once the relay takes
// connections, with the pairing stream (and, once claimed, the vault's
// stream) in place.
func Start(o Options) (*Relay, error) {
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.Store == "" {
		return nil, errors.New("relayserver: no store directory")
	}
	host, portText, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("relayserver: listen address %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("relayserver: listen address %q: bad port", o.Listen)
	}
	if err := os.MkdirAll(o.Store, 0o700); err != nil {
		return nil, fmt.Errorf("relayserver: store: %w", err)
	}
	r := &Relay{opts: o, host: host, claimGone: make(chan struct{}), done: make(chan struct{})}

	var tlsConfig *tls.Config
	if !o.NoTLS {
		cert, err := loadOrMakeCert(filepath.Join(o.Store, "tls"))
		if err != nil {
			return nil, err
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		r.fingerprint = Fingerprint(cert.Certificate[0])
	}

	if r.access, err = loadAccess(o.Store); err != nil {
		return nil, err
	}
	if r.access == nil {
		if r.claim, err = loadOrMakeClaim(o.Store); err != nil {
			return nil, err
		}
	} else {
		close(r.claimGone)
		if err := os.Remove(filepath.Join(o.Store, claimFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("relayserver: remove the used claim code: %w", err)
		}
	}

	adminPassword, err := randomHex(32)
	if err != nil {
		return nil, err
	}
	if port == 0 {
		port = server.RANDOM_PORT
	} else if err := portFree(host, port); err != nil {
		return nil, err
	}
	r.base = &server.Options{
		ServerName: serverName,
		Host:       host,
		Port:       port,
		NoLog:      true,
		NoSigs:     true,
		MaxPayload: MaxPayload,
		JetStream:  true,
		StoreDir:   filepath.Join(o.Store, "jetstream"),
		// A stored batch is acknowledged only once it is on disk: a
		// computer that saw the ack does not send it again.
		SyncAlways: true,
		TLSConfig:  tlsConfig,
		Users: []*server.User{{
			Username: adminUser,
			Password: adminPassword,
		}},
	}

	srv, err := server.NewServer(r.serverOptions())
	if err != nil {
		return nil, fmt.Errorf("relayserver: %w", err)
	}
	srv.SetLoggerV2(relayLogger{r}, false, false, false)
	r.srv = srv
	srv.Start()
	if err := r.waitReady(port); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, err
	}

	if err := r.connectAdmin(adminPassword); err != nil {
		r.Shutdown()
		return nil, err
	}
	return r, nil
}

// waitReady waits until the server takes connections or says why not.
func (r *Relay) waitReady(port int) error {
	deadline := time.Now().Add(30 * time.Second)
	for !r.srv.ReadyForConnections(100 * time.Millisecond) {
		if msg := r.fatalError(); msg != "" {
			if port > 0 && isAddrInUse(msg) {
				return inUse(port, errors.New(msg))
			}
			return fmt.Errorf("relayserver: %s", msg)
		}
		if time.Now().After(deadline) {
			return errors.New("relayserver: the relay did not start in time")
		}
	}
	return nil
}

// connectAdmin opens the in-process connection, makes the streams and
// starts answering the control subjects.
func (r *Relay) connectAdmin(password string) error {
	nc, err := nats.Connect("", nats.InProcessServer(r.srv), nats.UserInfo(adminUser, password),
		nats.Name("relay control"), nats.MaxReconnects(-1), nats.ErrorHandler(r.asyncError))
	if err != nil {
		return fmt.Errorf("relayserver: control connection: %w", err)
	}
	r.nc = nc
	if r.js, err = jetstream.New(nc); err != nil {
		return fmt.Errorf("relayserver: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.js.CreateOrUpdateStream(ctx, cvsync.RelayPairStreamConfig(1)); err != nil {
		return fmt.Errorf("relayserver: pairing stream: %w", err)
	}
	if a := r.Access(); a != nil {
		if _, err := r.js.CreateOrUpdateStream(ctx, cvsync.RelayStreamConfig(a.Vault, 1)); err != nil {
			return fmt.Errorf("relayserver: vault stream: %w", err)
		}
	}
	if _, err := nc.Subscribe(cvsync.RelayClaimSubject, r.handleClaim); err != nil {
		return fmt.Errorf("relayserver: %w", err)
	}
	if _, err := nc.Subscribe(cvsync.RelayAccessSubject, r.handleAccess); err != nil {
		return fmt.Errorf("relayserver: %w", err)
	}
	if err := nc.Flush(); err != nil {
		return fmt.Errorf("relayserver: %w", err)
	}
	return nil
}

// serverOptions is the server's configuration for the current access
// list: the fixed part (a fresh copy each time, as ReloadOptions wants)
// and the users. The caller holds r.mu, or is Start.
func (r *Relay) serverOptions() *server.Options {
	o := r.base.Clone()
	o.TLSConfig = r.base.TLSConfig // the same certificate, not a change
	o.Users = append(o.Users, guestUser())
	if r.claim != "" {
		o.Users = append(o.Users, claimUser(r.claim))
	} else if r.claimUser != "" {
		o.Users = append(o.Users, claimUser(r.claimUser))
	}
	if r.access != nil {
		o.Nkeys = memberUsers(r.access)
	}
	return o
}

// reload applies the current access list to the server. Clients whose
// user is gone are disconnected by the server: reloadAuthorization in
// nats-server's reload.go checks every client again against the new
// users (an NKey client's signature of its connect nonce is kept for
// that) and closes those it no longer admits. The caller holds r.mu.
func (r *Relay) reload() error {
	if err := r.srv.ReloadOptions(r.serverOptions()); err != nil {
		return fmt.Errorf("relayserver: apply the access list: %w", err)
	}
	return nil
}

// URL is where computers reach the relay, with the port it listens on.
// A relay listening on all addresses gives the machine's first
// non-loopback IPv4 address (or, lacking one, its host name).
func (r *Relay) URL() string {
	port := 0
	if a, ok := r.srv.Addr().(*net.TCPAddr); ok {
		port = a.Port
	}
	host := r.host
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = lanAddress()
	}
	return "nats://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// Fingerprint is the relay certificate's fingerprint, "sha256:" and 64
// lowercase hex digits, which computers pin; "" without TLS.
func (r *Relay) Fingerprint() string { return r.fingerprint }

// ClaimCode is the one-time code that claims the relay, "" once claimed.
func (r *Relay) ClaimCode() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.claim
}

// Access is a copy of the current access list, nil while unclaimed.
func (r *Relay) Access() *cvsync.RelayAccess {
	r.mu.Lock()
	defer r.mu.Unlock()
	return copyAccess(r.access)
}

// Shutdown stops the relay; what it stored stays in Store.
func (r *Relay) Shutdown() {
	r.stopOnce.Do(func() { close(r.done) })
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	if r.nc != nil {
		r.nc.Close()
	}
	r.srv.Shutdown()
	r.srv.WaitForShutdown()
}

// Wait returns once the relay has shut down.
func (r *Relay) Wait() { r.srv.WaitForShutdown() }

func (r *Relay) logf(format string, args ...any) {
	if r.opts.Logf != nil {
		r.opts.Logf(format, args...)
	}
}

func (r *Relay) fatalError() string {
	r.fatalMu.Lock()
	defer r.fatalMu.Unlock()
	return r.fatal
}

func (r *Relay) asyncError(_ *nats.Conn, _ *nats.Subscription, err error) {
	r.logf("relay: control connection: %v", err)
}

// relayLogger passes the server's errors to Logf and drops the rest (the
// banner, notices, warnings). A fatal error is kept for Start, and never
// exits the program as nats-server's own logger would.
type relayLogger struct{ r *Relay }

func (l relayLogger) Noticef(string, ...any) {}
func (l relayLogger) Warnf(string, ...any)   {}
func (l relayLogger) Debugf(string, ...any)  {}
func (l relayLogger) Tracef(string, ...any)  {}
func (l relayLogger) Errorf(format string, args ...any) {
	l.r.logf("relay: "+format, args...)
}
func (l relayLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.r.fatalMu.Lock()
	l.r.fatal = msg
	l.r.fatalMu.Unlock()
	l.r.logf("relay: %s", msg)
}

// portFree fails clearly when another program holds the port, which the
// server itself would only report as a fatal log line.
func portFree(host string, port int) error {
	l, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) || isAddrInUse(err.Error()) {
			return inUse(port, err)
		}
		return fmt.Errorf("relayserver: cannot listen on %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	return l.Close()
}

func inUse(port int, err error) error {
	return fmt.Errorf("relayserver: another program is using port %d (%v); stop it or choose another port", port, err)
}

func isAddrInUse(msg string) bool {
	msg = strings.ToLower(msg)
	return strings.Contains(msg, "address already in use") || strings.Contains(msg, "only one usage of each socket address")
}

// lanAddress is the machine's first non-loopback IPv4 address, else its
// host name, else 127.0.0.1.
func lanAddress() string {
	for _, ip := range machineIPs() {
		if ip4 := ip.To4(); ip4 != nil && !ip4.IsLoopback() && !ip4.IsLinkLocalUnicast() {
			return ip4.String()
		}
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "127.0.0.1"
}

// machineIPs lists the addresses of the machine's interfaces that are up.
func machineIPs() []net.IP {
	var ips []net.IP
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				ips = append(ips, n.IP)
			}
		}
	}
	return ips
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("relayserver: %w", err)
	}
	return hex.EncodeToString(b), nil
}
