package app

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	cvsync "github.com/clinicvault/clinicvault/sync"
)

// Review 6: the relay and pairing through it, from the attacker's side.

// mitmRelay is someone on the network path in front of a relay made by
// relay serve: he answers at his own address with his own certificate
// and passes everything on to the real relay (a NATS server speaks
// first, INFO in the clear, then both sides turn to TLS). It returns his
// address and his certificate's fingerprint.
func mitmRelay(t *testing.T, target string) (url, fingerprint string) {
	t.Helper()
	own := t.TempDir()
	rs := servedRelay(t, own) // only for a certificate of his own
	cert, err := tls.LoadX509KeyPair(filepath.Join(own, "tls", "cert.pem"), filepath.Join(own, "tls", "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	fingerprint = rs.Fingerprint()
	rs.Shutdown()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	addr := target[len("nats://"):]
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				up, err := net.Dial("tcp", addr)
				if err != nil {
					return
				}
				defer up.Close()
				br := bufio.NewReader(up)
				info, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if _, err := io.WriteString(c, info); err != nil {
					return
				}
				down := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{cert}})
				if down.Handshake() != nil {
					return
				}
				upTLS := tls.Client(up, &tls.Config{InsecureSkipVerify: true})
				if upTLS.Handshake() != nil {
					return
				}
				go io.Copy(upTLS, down)
				io.Copy(down, upTLS)
			}()
		}
	}()
	return "nats://" + l.Addr().String(), fingerprint
}

// TestAttackReview6MITMDuringRelayJoinIsNotPinned: a laptop at home joins
// through the practice's relay at an address other than the one the
// desk uses (its public name; the desk uses the LAN address). Someone on
// its network path answers at that address with his own certificate
// and passes the pairing on, unchanged: he knows no code and cannot read
// the approval. The approval names the practice's relay's certificate;
// the laptop met his. It must refuse, not pin his certificate (which
// would leave him between the laptop and the relay for good, and make
// the laptop sign his connect nonces with its device key).
func TestAttackReview6MITMDuringRelayJoinIsNotPinned(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	rs := servedRelay(t, t.TempDir())
	l := RelayLink{URL: rs.URL(), Fingerprint: rs.Fingerprint()}
	if err := a.ClaimRelay(ctx, l, rs.ClaimCode()); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, a, RelayPlace(l))
	evilURL, evilFP := mitmRelay(t, rs.URL())

	bv, err := joinThroughRelay(t, f, a, l, RelayLink{URL: evilURL}, "laptop")
	if err == nil {
		b := signInOn(t, f, bv, "Maria Admin", adminPass)
		got := b.SyncRelay(ctx)
		t.Fatalf("the laptop joined through a man in the middle and pinned %q (his is %q, the practice's %q)", got.Fingerprint, evilFP, l.Fingerprint)
	}
	if !errors.Is(err, cvsync.ErrRelayPin) {
		t.Fatalf("join through a man in the middle: %v, want ErrRelayPin", err)
	}
	if bv.Exists() {
		t.Fatal("a vault was set up")
	}
}

// TestAttackReview6RelayJoinAtAnotherAddressOfTheSameRelay: the defence
// above must not refuse the genuine relay reached at another address.
func TestAttackReview6RelayJoinAtAnotherAddressOfTheSameRelay(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	rs := servedRelay(t, t.TempDir())
	l := RelayLink{URL: rs.URL(), Fingerprint: rs.Fingerprint()}
	if err := a.ClaimRelay(ctx, l, rs.ClaimCode()); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, a, RelayPlace(l))
	// The same relay, named otherwise.
	other := RelayLink{URL: "nats://localhost:" + l.URL[len("nats://127.0.0.1:"):]}
	bv, err := joinThroughRelay(t, f, a, l, other, "laptop")
	if err != nil {
		t.Fatalf("join at another address of the practice's relay: %v", err)
	}
	b := signInOn(t, f, bv, "Maria Admin", adminPass)
	if got := b.SyncRelay(ctx); got.URL != other.URL || got.Fingerprint != l.Fingerprint {
		t.Fatalf("the laptop's relay: %+v, want %s pinned to %s", got, other.URL, l.Fingerprint)
	}
	_ = time.Second
}

// TestAttackReview6OperatorHidesAComputer: the relay's operator deletes
// one small entry, the desk's id (cv.<vault>.d.<desk>), and leaves its
// batches. The desk's own check finds all its batches there and sends
// nothing again; the laptop no longer lists the desk among the
// computers that write and so never asks for its batches: the desk's
// new patient never arrives, and nothing says so. The laptop must still
// read the desk's log (it knows the desk from the roster), or at least
// say that it is missing.
func TestAttackReview6OperatorHidesAComputer(t *testing.T) {
	f, _, a, b := twoMachines(t)
	ctx := context.Background()
	srv := stockRelay(t, 0, t.TempDir())
	relay := RelayPlace(RelayLink{URL: srv.ClientURL()})
	mustSyncAt(t, a, relay)
	mustSyncAt(t, b, relay)

	// The operator, with his own connection to his server.
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	vault := cvsync.RelayVaultName(a.kr.VaultID)
	st, err := js.Stream(ctx, cvsync.RelayStream(vault))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject("cv."+vault+".d."+cvsync.RelayDeviceName(a.kr.VaultID, a.DeviceID()))); err != nil {
		t.Fatal(err)
	}

	f.clk.Advance(time.Second)
	p, _, err := a.AddPatient(ctx, Patient{Given: "Hidden", Family: "Byoperator", DOB: "1971-02-03"})
	if err != nil {
		t.Fatal(err)
	}
	if rep := mustSyncAt(t, a, relay); rep.Sent == 0 {
		t.Fatalf("the desk sent nothing: %+v", rep)
	}
	rep := mustSyncAt(t, b, relay)
	if _, err := b.GetPatient(ctx, p.MRN); err == nil {
		return
	}
	for _, pr := range rep.Problems {
		if pr.Device == a.DeviceID() {
			return
		}
	}
	t.Fatalf("the desk's new patient did not reach the laptop, and nothing says so: %+v", rep)
}

// relayAsAttacker is a connection to relay serve with a computer's
// device key, read from general.db by whoever sits at that computer (a
// receptionist has the general key), and a list signed with it.
func relayAsAttacker(t *testing.T, link RelayLink, victim *Session) (*cvsync.Relay, func(cvsync.RelayAccess) string) {
	t.Helper()
	r, err := cvsync.DialRelay(context.Background(), cvsync.RelayOptions{URL: link.URL, Fingerprint: link.Fingerprint,
		DeviceSeed: victim.devKeys.ed25519, VaultID: victim.kr.VaultID, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	kp, err := cvsync.DeviceNKey(victim.devKeys.ed25519)
	if err != nil {
		t.Fatal(err)
	}
	me, _ := kp.PublicKey()
	send := func(a cvsync.RelayAccess) string {
		if len(a.Admins) == 0 {
			a.Admins = []string{me} // it names itself an admin
		}
		if err := a.Sign(kp); err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(a)
		answer, err := r.Request(cvsync.RelayAccessSubject, body)
		if err != nil {
			t.Fatal(err)
		}
		return answer
	}
	return r, send
}

// TestAttackReview6MemberTakesAnotherComputersSubjects: the laptop's key
// signs a list in which the laptop's NKey is admitted as the desk (the
// list maps each key to the subjects it may write). The relay must not
// let a list move a computer's key onto another computer's subjects.
func TestAttackReview6MemberTakesAnotherComputersSubjects(t *testing.T) {
	_, _, a, b := twoMachines(t)
	ctx := context.Background()
	rs := servedRelay(t, t.TempDir())
	link := RelayLink{URL: rs.URL(), Fingerprint: rs.Fingerprint()}
	if err := a.ClaimRelay(ctx, link, rs.ClaimCode()); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, a, RelayPlace(link))
	_, send := relayAsAttacker(t, link, b)
	cur := rs.Access()
	evil := cvsync.RelayAccess{Vault: cur.Vault, Version: cur.Version + 1}
	desk := cvsync.RelayDeviceName(a.kr.VaultID, a.DeviceID())
	bKey, _ := cvsync.DeviceNKey(b.devKeys.ed25519)
	bPub, _ := bKey.PublicKey()
	for _, m := range cur.Members {
		if m.NKey == bPub {
			m.Device = desk // the laptop's key, the desk's subjects
		}
		evil.Members = append(evil.Members, m)
	}
	if answer := send(evil); answer == "ok" {
		t.Fatalf("the relay let the laptop's key take the desk's subjects: %+v", rs.Access().Members)
	}
}

// TestAttackReview6AccessListVersionFreeze: the laptop's key signs the
// very list the relay holds, at version MaxInt64. No list is newer ever
// after: when the admin revokes the laptop, the relay still admits it,
// and the admin's computer, told "not newer", takes that for "the relay
// has it" and says nothing.
func TestAttackReview6AccessListVersionFreeze(t *testing.T) {
	f, _, a, b := twoMachines(t)
	ctx := context.Background()
	rs := servedRelay(t, t.TempDir())
	link := RelayLink{URL: rs.URL(), Fingerprint: rs.Fingerprint()}
	relay := RelayPlace(link)
	if err := a.ClaimRelay(ctx, link, rs.ClaimCode()); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, a, relay)
	_, send := relayAsAttacker(t, link, b)
	cur := rs.Access()
	frozen := cvsync.RelayAccess{Vault: cur.Vault, Version: math.MaxInt64, Members: cur.Members}
	answer := send(frozen)

	f.clk.Advance(time.Minute)
	if err := a.RevokeDeviceAt(ctx, relay, b.DeviceID()); err != nil {
		t.Fatal(err)
	}
	rep := mustSyncAt(t, a, relay)
	if len(rs.Access().Members) == 1 {
		return // the revocation reached the relay
	}
	for _, p := range rep.Problems {
		if p.Kind == ProblemRelay {
			t.Logf("said: %s", p.Detail)
			if answer != "ok" {
				return
			}
		}
	}
	t.Fatalf("the relay took a list at version MaxInt64 (%q) and still admits the revoked laptop; the admin's pass says: %+v", answer, rep.Problems)
}

// TestAttackReview6MemberReadmitsRevokedComputer: a receptionist reads
// her computer's device key from general.db. After the laptop is revoked
// she signs a newer list that admits it again (and one that names her
// key an admin): the relay takes only lists signed by an admin's own
// key, which is in the admin's slot, not in general.db.
func TestAttackReview6MemberReadmitsRevokedComputer(t *testing.T) {
	f, _, a, b := twoMachines(t)
	ctx := context.Background()
	rs := servedRelay(t, t.TempDir())
	link := RelayLink{URL: rs.URL(), Fingerprint: rs.Fingerprint()}
	relay := RelayPlace(link)
	if err := a.ClaimRelay(ctx, link, rs.ClaimCode()); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, a, relay)
	mustSyncAt(t, b, relay)
	mustSyncAt(t, a, relay)
	f.clk.Advance(time.Minute)
	if err := a.RevokeDeviceAt(ctx, relay, b.DeviceID()); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, a, relay)
	cur := rs.Access()
	if len(cur.Members) != 1 {
		t.Fatalf("the revocation did not reach the relay: %+v", cur.Members)
	}
	// At the desk, a receptionist with the desk's device key (general.db)
	// signs a newer list that admits the laptop again, naming her key,
	// and then the admins', as an admin.
	_, send := relayAsAttacker(t, link, a)
	bKey, _ := cvsync.DeviceNKey(b.devKeys.ed25519)
	bPub, _ := bKey.PublicKey()
	back := cvsync.RelayAccess{Vault: cur.Vault, Version: cur.Version + 1,
		Members: append(slices.Clone(cur.Members), cvsync.RelayMember{NKey: bPub, Device: cvsync.RelayDeviceName(b.kr.VaultID, b.DeviceID())})}
	if answer := send(back); answer == "ok" {
		t.Fatal("the relay took a list signed by a computer's key that re-admits the revoked laptop")
	}
	aKey, _ := cvsync.DeviceNKey(a.devKeys.ed25519)
	aPub, _ := aKey.PublicKey()
	back.Admins = append(slices.Clone(cur.Admins), aPub)
	if answer := send(back); answer == "ok" {
		t.Fatal("the relay took a list signed by a computer's key that names itself an admin")
	}
	if got := rs.Access(); len(got.Members) != 1 || got.Has(bPub) {
		t.Fatalf("the relay admits the revoked laptop again: %+v", got.Members)
	}
	b.relays.closeAll()
	if _, err := b.SyncAt(ctx, relay); !errors.Is(err, cvsync.ErrRelayRefused) {
		t.Fatalf("the revoked laptop reconnecting: %v, want ErrRelayRefused", err)
	}
}
