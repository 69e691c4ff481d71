package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/clinicvault/clinicvault/sync/relayserver"
)

// servedRelay runs the practice's own relay (relay serve) on a free
// port of this machine.
func servedRelay(t *testing.T, store string) *relayserver.Relay {
	t.Helper()
	r, err := relayserver.Start(relayserver.Options{Listen: "127.0.0.1:0", Store: store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Shutdown)
	return r
}

// TestRelayServeAdmitsThePracticesComputersOnly: an admin claims a new
// relay with its code; the practice's computers then sync through it,
// pinned to its certificate and signed in with their device keys; a
// revoked computer is turned away (its connection closed, a new one
// refused), and a computer of another practice never gets in.
func TestRelayServeAdmitsThePracticesComputersOnly(t *testing.T) {
	f, _, a, b := twoMachines(t)
	ctx := context.Background()
	store := t.TempDir()
	rs := servedRelay(t, store)
	link := RelayLink{URL: rs.URL(), Fingerprint: rs.Fingerprint()}
	relay := RelayPlace(link)

	// Before the claim nobody is admitted.
	if _, err := b.SyncAt(ctx, relay); !errors.Is(err, cvsync.ErrRelayRefused) {
		t.Fatalf("a computer before the relay is claimed: %v, want ErrRelayRefused", err)
	}
	b.relays.closeAll()
	// A wrong claim code, then the right one typed loosely.
	if err := a.ClaimRelay(ctx, link, "AAAAA-AAAAA-AAAAA-AAAAA"); !errors.Is(err, ErrRelayClaim) {
		t.Fatalf("claim with a wrong code: %v", err)
	}
	if err := a.ClaimRelay(ctx, link, strings.ToLower(strings.ReplaceAll(rs.ClaimCode(), "-", " "))); err != nil {
		t.Fatalf("claim: %v", err)
	}
	if a.SyncRelay(ctx) != link {
		t.Fatalf("the claimed relay is not remembered: %+v", a.SyncRelay(ctx))
	}
	if got := len(rs.Access().Members); got != 2 {
		t.Fatalf("the relay admits %d computers, want the practice's 2", got)
	}

	p, _, err := a.AddPatient(ctx, Patient{Given: "Ottoline", Family: "Marchbanks", DOB: "1958-07-08", Phone: "555 0177"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddEncounter(ctx, p.MRN, SOAP{Plan: "canary-plan-frobozz"}); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, a, relay)
	if rep := mustSyncAt(t, b, relay); rep.Applied == 0 {
		t.Fatalf("nothing applied through relay serve: %+v", rep)
	}
	if c, err := b.OpenChart(ctx, p.MRN); err != nil || len(c.Encounters) != 1 {
		t.Fatalf("chart through relay serve: %v", err)
	}

	// The pin: the same address with another fingerprint is refused.
	other := RelayLink{URL: rs.URL(), Fingerprint: "sha256:" + strings.Repeat("ab", 32)}
	if _, err := b.SyncAt(ctx, RelayPlace(other)); !errors.Is(err, cvsync.ErrRelayPin) {
		t.Fatalf("a certificate other than the pinned one: %v, want ErrRelayPin", err)
	}

	// A computer of another practice, with its own device key: refused.
	g := newFixture(t)
	stranger := g.mustSignIn("Maria Admin", adminPass)
	if _, err := stranger.SyncAt(ctx, relay); !errors.Is(err, cvsync.ErrRelayRefused) {
		t.Fatalf("another practice's computer: %v, want ErrRelayRefused", err)
	}

	// The laptop is revoked: the admin's next pass gives the relay the
	// new list, and the laptop is cut off.
	bConn, err := b.relayFor(ctx, link)
	if err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, a, relay) // what the laptop wrote before it was revoked
	f.clk.Advance(time.Minute)
	if err := a.RevokeDeviceAt(ctx, relay, b.DeviceID()); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, a, relay)
	if got := len(rs.Access().Members); got != 1 {
		t.Fatalf("after the revocation the relay admits %d computers, want 1", got)
	}
	closed := time.After(5 * time.Second) // a span, not a date
	for waiting := true; waiting && bConn.Connected(); {
		select {
		case <-closed:
			waiting = false
		case <-time.After(50 * time.Millisecond):
		}
	}
	if bConn.Connected() {
		t.Fatal("the revoked computer's connection is still open")
	}
	b.relays.closeAll()
	if _, err := b.SyncAt(ctx, relay); !errors.Is(err, cvsync.ErrRelayRefused) {
		t.Fatalf("the revoked computer reconnecting: %v, want ErrRelayRefused", err)
	}

	// Nothing of the practice in the relay's store.
	rs.Shutdown()
	if found := storeHolds(t, store, "Ottoline", "Marchbanks", "555 0177", "canary-plan-frobozz", "Maria Admin", "Riverside"); len(found) > 0 {
		t.Fatalf("the relay's store holds plaintext: %v", found)
	}
}

// TestAttackRelayMemberWritesIntoAnotherComputersLog: a computer the
// relay admits, with its own valid credentials, publishes into another
// computer's batch subjects: the relay refuses it, and were it stored
// anyway the receivers refuse it (it is not signed by that computer).
func TestAttackRelayMemberWritesIntoAnotherComputersLog(t *testing.T) {
	_, _, a, b := twoMachines(t)
	ctx := context.Background()
	rs := servedRelay(t, t.TempDir())
	link := RelayLink{URL: rs.URL(), Fingerprint: rs.Fingerprint()}
	if err := a.ClaimRelay(ctx, link, rs.ClaimCode()); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, a, RelayPlace(link))
	// The attacker holds the laptop's device key (a receptionist at the
	// laptop can read it from general.db) and connects as the laptop.
	evil, err := cvsync.DialRelay(ctx, cvsync.RelayOptions{URL: link.URL, Fingerprint: link.Fingerprint,
		DeviceSeed: b.devKeys.ed25519, VaultID: b.kr.VaultID, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer evil.Close()
	seqs, _ := evil.Seqs(a.DeviceID(), 0)
	next := uint64(len(seqs) + 1)
	if err := evil.Put(a.DeviceID(), next, []byte("forged batch")); err == nil {
		t.Fatal("the relay took a batch into another computer's log")
	}
	if err := evil.ReplaceBatch(a.DeviceID(), 1, []byte("forged batch")); err == nil {
		t.Fatal("the relay let one computer overwrite another's batch")
	}
	if got, _ := evil.Seqs(a.DeviceID(), 0); len(got) != len(seqs) {
		t.Fatalf("the desk's log on the relay changed: %v → %v", seqs, got)
	}
	// Its own log it may write; a batch there that the laptop's people did
	// not sign is refused by every receiver, and halts that log.
	if err := evil.Put(b.DeviceID(), 1000, []byte("junk")); err != nil {
		t.Fatalf("its own subjects: %v", err)
	}
	rep, err := a.SyncAt(ctx, RelayPlace(link))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Applied != 0 {
		t.Fatalf("applied something planted: %+v", rep)
	}
}
