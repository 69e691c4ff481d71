package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestRelayThroughDebiansNatsServer: the nats-server a Linux distribution
// ships (Debian's 2.9), started by hand with JetStream and a password as
// an operator would (nats-server -js --user … --pass …): a laptop is
// paired through it and a patient and a note cross, with the operator's
// credentials (--relay-creds). Skipped where it is not installed (CI
// installs it).
func TestRelayThroughDebiansNatsServer(t *testing.T) {
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		t.Skip("nats-server is not installed (apt install nats-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	store := t.TempDir()
	cmd := exec.Command(bin, "-js", "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-sd", store, "--user", "practice", "--pass", "s3cret-relay")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatal("nats-server did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	creds := filepath.Join(t.TempDir(), "relay.creds")
	os.WriteFile(creds, []byte("practice:s3cret-relay\n"), 0o600)

	// A practice with no shared folder: the laptop is paired through the
	// server, with the operator's credentials.
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	l := RelayLink{URL: fmt.Sprintf("nats://127.0.0.1:%d", port), Creds: creds}
	relay := RelayPlace(l)
	p, _, err := a.AddPatient(ctx, Patient{Given: "Debian", Family: "Stockserver", DOB: "1950-05-05"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddEncounter(ctx, p.MRN, SOAP{Assessment: "canary-debian-note"}); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, a, relay)
	bv, err := joinThroughRelay(t, f, a, l, l, "laptop")
	if err != nil {
		t.Fatalf("join through Debian's nats-server: %v", err)
	}
	b := signInOn(t, f, bv, "Maria Admin", adminPass)
	if b.SyncRelay(ctx) != l {
		t.Fatalf("the laptop's relay: %+v, want %+v", b.SyncRelay(ctx), l)
	}
	mustSyncAt(t, b, relay)
	if c, err := b.OpenChart(ctx, p.MRN); err != nil || len(c.Encounters) != 1 || c.Encounters[0].SOAP.Assessment != "canary-debian-note" {
		t.Fatalf("chart through Debian's nats-server: %v", err)
	}
	// Without the password: refused, said so.
	if _, err := b.SyncAt(ctx, RelayPlace(RelayLink{URL: relay.Relay.URL})); err == nil {
		t.Fatal("a computer without the operator's credentials got in")
	}
	cmd.Process.Kill()
	cmd.Wait()
	if found := storeHolds(t, store, "Debian", "Stockserver", "canary-debian-note"); len(found) > 0 {
		t.Fatalf("the server's store holds plaintext: %v", found)
	}
}
