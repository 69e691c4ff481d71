package app

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cvsync "github.com/clinicvault/clinicvault/sync"
)

// joinThroughRelay pairs a new computer through the relay l, the way
// `device invite --relay` and `join --relay` do, the joining computer
// given joinLink (an address, perhaps no fingerprint).
func joinThroughRelay(t *testing.T, f *fixture, admin *Session, l, joinLink RelayLink, name string) (*Vault, error) {
	t.Helper()
	ctx := context.Background()
	inv, err := admin.InviteThroughRelay(ctx, l)
	if err != nil {
		t.Fatal(err)
	}
	nv := NewVault(filepath.Join(t.TempDir(), name))
	nv.Now = f.clk.Now
	nv.UseMinimumKDF()
	done := make(chan error, 1)
	go func() { done <- nv.JoinThroughRelay(ctx, joinLink, inv.Code, name, nil, 20*time.Millisecond) }()
	req, _, err := inv.WaitForDevice(ctx, f.clk.Now, 20*time.Millisecond)
	if err != nil {
		t.Fatalf("waiting for the new computer through the relay: %v", err)
	}
	if err := admin.ApproveDevice(ctx, inv, req); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, admin, RelayPlace(l)) // the relay admits the new computer
	return nv, <-done
}

// TestPairThroughRelayServeAndExchangeCharts: the Done-when of the relay:
// a practice with no shared folder at all. Its admin claims a relay made
// by relay serve; a laptop joins through it given only the address (the
// certificate it met is then checked against the one the approval
// names); patients and notes go both ways; the relay's store holds none
// of it.
func TestPairThroughRelayServeAndExchangeCharts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	store := t.TempDir()
	rs := servedRelay(t, store)
	l := RelayLink{URL: rs.URL(), Fingerprint: rs.Fingerprint()}
	if err := a.ClaimRelay(ctx, l, rs.ClaimCode()); err != nil {
		t.Fatal(err)
	}
	p, _, err := a.AddPatient(ctx, Patient{Given: "Perpetua", Family: "Wolstenholme", DOB: "1949-09-09"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddEncounter(ctx, p.MRN, SOAP{Subjective: "canary-relay-paired-note"}); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, a, RelayPlace(l))

	bv, err := joinThroughRelay(t, f, a, l, RelayLink{URL: l.URL}, "laptop")
	if err != nil {
		t.Fatalf("join through the relay: %v", err)
	}
	b := signInOn(t, f, bv, "Maria Admin", adminPass)
	if got := b.SyncRelay(ctx); got != l {
		t.Fatalf("the laptop's relay is %+v, want the practice's %+v (pinned)", got, l)
	}
	if b.SyncFolder(ctx) != "" {
		t.Fatalf("a computer joined through the relay has a folder: %q", b.SyncFolder(ctx))
	}
	mustSyncAt(t, b, RelayPlace(l))
	c, err := b.OpenChart(ctx, p.MRN)
	if err != nil || len(c.Encounters) != 1 || c.Encounters[0].SOAP.Subjective != "canary-relay-paired-note" {
		t.Fatalf("the chart on the laptop: %v", err)
	}
	f.clk.Advance(time.Second)
	if _, err := b.EditPatient(ctx, p.MRN, PatientChanges{Phone: Str("555 0163")}); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, b, RelayPlace(l))
	mustSyncAt(t, a, RelayPlace(l))
	if got, _ := a.GetPatient(ctx, p.MRN); got.Phone != "555 0163" {
		t.Fatalf("the laptop's edit did not reach the desk: %q", got.Phone)
	}
	rs.Shutdown()
	if found := storeHolds(t, store, "Perpetua", "Wolstenholme", "canary-relay-paired-note", "555 0163", "laptop", "Maria Admin"); len(found) > 0 {
		t.Fatalf("the relay's store holds plaintext: %v", found)
	}
}

// TestPairThroughStockNATS: the same through a stock nats-server (no
// certificate, no claim): the operator admits computers, ClinicVault
// pairs and syncs through it.
func TestPairThroughStockNATS(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	srv := stockRelay(t, 0, t.TempDir())
	l := RelayLink{URL: srv.ClientURL()}
	p, _, err := a.AddPatient(ctx, Patient{Given: "Stock", Family: "Paired", DOB: "1960-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddEncounter(ctx, p.MRN, SOAP{Plan: "stock plan"}); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, a, RelayPlace(l))
	bv, err := joinThroughRelay(t, f, a, l, l, "laptop")
	if err != nil {
		t.Fatalf("join through a stock NATS server: %v", err)
	}
	b := signInOn(t, f, bv, "Maria Admin", adminPass)
	mustSyncAt(t, b, RelayPlace(l))
	if c, err := b.OpenChart(ctx, p.MRN); err != nil || len(c.Encounters) != 1 {
		t.Fatalf("chart through a stock NATS server: %v", err)
	}
}

// TestJoinThroughRelayRefusesAnotherCertificate: a joining computer given
// the practice's fingerprint reaches, at that address, a server with
// another certificate: it is refused before any pairing file is read.
func TestJoinThroughRelayRefusesAnotherCertificate(t *testing.T) {
	rs := servedRelay(t, t.TempDir())
	other := servedRelay(t, t.TempDir())
	nv := NewVault(filepath.Join(t.TempDir(), "new"))
	err := nv.JoinThroughRelay(context.Background(), RelayLink{URL: rs.URL(), Fingerprint: other.Fingerprint()}, "AAAAA-BBBBB-CCCCC", "x", nil, time.Millisecond)
	if !errors.Is(err, cvsync.ErrRelayPin) {
		t.Fatalf("join through a relay with another certificate: %v, want ErrRelayPin", err)
	}
	if nv.Exists() {
		t.Fatal("a vault was set up")
	}
}

// TestRelayFingerprintAsTyped: an admin who types the fingerprint in
// capitals without "sha256:", and a laptop given it with colons, pair and
// sync: one certificate is not taken for another because of how its name
// was written.
func TestRelayFingerprintAsTyped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	rs := servedRelay(t, t.TempDir())
	bare := strings.TrimPrefix(rs.Fingerprint(), "sha256:")
	typed := RelayLink{URL: rs.URL(), Fingerprint: strings.ToUpper(bare)}
	if err := a.ClaimRelay(ctx, typed, rs.ClaimCode()); err != nil {
		t.Fatal(err)
	}
	var colons []string
	for i := 0; i < len(bare); i += 2 {
		colons = append(colons, bare[i:i+2])
	}
	bv, err := joinThroughRelay(t, f, a, typed, RelayLink{URL: rs.URL(), Fingerprint: "SHA256:" + strings.Join(colons, ":")}, "laptop")
	if err != nil {
		t.Fatalf("join with the fingerprint written another way: %v", err)
	}
	b := signInOn(t, f, bv, "Maria Admin", adminPass)
	if got := b.SyncRelay(ctx).Fingerprint; got != rs.Fingerprint() {
		t.Fatalf("the laptop pinned %q, want %q", got, rs.Fingerprint())
	}
	mustSyncAt(t, b, RelayPlace(b.SyncRelay(ctx)))
}
