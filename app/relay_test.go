package app

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	cvsync "github.com/clinicvault/clinicvault/sync"
)

// stockRelay runs a stock nats-server with JetStream, no ClinicVault in
// it: the relay of a group of practices, run by an operator. port 0
// picks one; store is its disk.
func stockRelay(t *testing.T, port int, store string) *server.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: store, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(s.Shutdown)
	return s
}

func mustSyncAt(t *testing.T, s *Session, p Place) SyncReport {
	t.Helper()
	rep, err := s.SyncAt(context.Background(), p)
	if err != nil {
		t.Fatalf("sync through %s: %v", p, err)
	}
	if rep.Refused > 0 {
		t.Fatalf("sync refused: %+v", rep)
	}
	return rep
}

// storeHolds reports which of the canaries are anywhere under dir.
func storeHolds(t *testing.T, dir string, canaries ...string) []string {
	t.Helper()
	var found []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if info == nil || info.IsDir() {
			return nil
		}
		data, _ := os.ReadFile(p)
		for _, c := range canaries {
			if strings.Contains(string(data), c) {
				found = append(found, c+" in "+p)
			}
		}
		return nil
	})
	return found
}

// TestRelayCarriesPatientsAndNotesAndHoldsNoPlaintext: two computers
// that share no folder exchange a patient and a clinical note through a
// stock NATS server, both ways, and the server's disk holds none of it.
func TestRelayCarriesPatientsAndNotesAndHoldsNoPlaintext(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	store := t.TempDir()
	srv := stockRelay(t, 0, store)
	relay := RelayPlace(RelayLink{URL: srv.ClientURL()})

	p, _, err := a.AddPatient(ctx, Patient{Given: "Zebedee", Family: "Quillfeather", DOB: "1961-04-05", Phone: "555 0199"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddEncounter(ctx, p.MRN, SOAP{Subjective: "canary-note-xyzzy", Assessment: "canary-assessment-plugh"}); err != nil {
		t.Fatal(err)
	}
	if rep := mustSyncAt(t, a, relay); rep.Sent == 0 {
		t.Fatalf("nothing sent to the relay: %+v", rep)
	}
	if rep := mustSyncAt(t, b, relay); rep.Applied == 0 {
		t.Fatalf("nothing applied from the relay: %+v", rep)
	}
	c, err := b.OpenChart(ctx, p.MRN)
	if err != nil || c.Patient.Family != "Quillfeather" || len(c.Encounters) != 1 || c.Encounters[0].SOAP.Subjective != "canary-note-xyzzy" {
		t.Fatalf("chart on B through the relay: %v %+v", err, c)
	}
	// And back.
	f.clk.Advance(time.Second)
	if _, err := b.EditPatient(ctx, p.MRN, PatientChanges{Phone: Str("555 0142")}); err != nil {
		t.Fatal(err)
	}
	mustSyncAt(t, b, relay)
	mustSyncAt(t, a, relay)
	if got, _ := a.GetPatient(ctx, p.MRN); got.Phone != "555 0142" {
		t.Fatalf("B's edit did not reach A: %q", got.Phone)
	}
	// A computer on both: what arrives by the relay is not applied again
	// from the folder.
	mustSync(t, b, dir)
	if rep := mustSync(t, a, dir); rep.Applied != 0 {
		t.Fatalf("batches taken by the relay were applied again from the folder: %+v", rep)
	}

	srv.Shutdown()
	srv.WaitForShutdown()
	if found := storeHolds(t, store, "Zebedee", "Quillfeather", "555 0199", "555 0142", "canary-note-xyzzy", "canary-assessment-plugh", "Maria Admin", "laptop"); len(found) > 0 {
		t.Fatalf("the relay's disk holds plaintext: %v", found)
	}
}

// TestRelayWipedIsRefilled: the relay is a cache. Its disk wiped, each
// computer's next pass finds its own batches missing and sends its whole
// log again; a computer that joins the relay afterwards gets everything.
func TestRelayWipedIsRefilled(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	store := t.TempDir()
	srv := stockRelay(t, 0, store)
	port, url := srv.Addr().(*net.TCPAddr).Port, srv.ClientURL()
	relay := RelayPlace(RelayLink{URL: url})
	for i := range 3 {
		if _, _, err := a.AddPatient(ctx, Patient{Given: "Wiped", Family: "Family" + string(rune('A'+i)), DOB: "1970-01-01"}); err != nil {
			t.Fatal(err)
		}
	}
	mustSyncAt(t, a, relay)
	sent := a.sentCount(t)

	// The relay's disk is lost: a new, empty server in its place.
	srv.Shutdown()
	srv.WaitForShutdown()
	os.RemoveAll(store)
	stockRelay(t, port, t.TempDir())
	var progress []int
	a.OnSendProgress(func(place string, done, total int) {
		if place == url && total == sent {
			progress = append(progress, done)
		}
	})
	rep := syncRetrying(t, a, relay) // the session's connection comes back by itself
	if rep.Resent != sent {
		t.Fatalf("resent %d of the %d batches the relay lost", rep.Resent, sent)
	}
	if sent > 1 && (len(progress) == 0 || progress[len(progress)-1] != sent) {
		t.Fatalf("the refill's progress was not shown: %v of %d", progress, sent)
	}
	a.OnSendProgress(nil)
	// A third computer, joined through the folder, takes it all from the
	// relay alone.
	cv := pair(t, f, a, dir, "third")
	mustSync(t, a, dir)
	mustSyncAt(t, a, relay)
	c := signInOn(t, f, cv, "Maria Admin", adminPass)
	mustSyncAt(t, c, relay)
	if got, _ := c.SearchPatients(ctx, "wiped", 10); len(got) != 3 {
		t.Fatalf("the third computer has %d of the 3 patients from the refilled relay", len(got))
	}
	_ = b
}

func (s *Session) sentCount(t *testing.T) int {
	t.Helper()
	var n int
	if err := s.general.QueryRow(`SELECT count(*) FROM sync_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRelayDownEditsGoOnAndTheBacklogGoesOut: with the relay away, a
// pass says so (ErrUnreachable) and nothing is lost; once it is back the
// backlog goes out and arrives.
func TestRelayDownEditsGoOnAndTheBacklogGoesOut(t *testing.T) {
	_, _, a, b := twoMachines(t)
	ctx := context.Background()
	store := t.TempDir()
	srv := stockRelay(t, 0, store)
	port := srv.Addr().(*net.TCPAddr).Port
	relay := RelayPlace(RelayLink{URL: srv.ClientURL()})
	mustSyncAt(t, a, relay)
	mustSyncAt(t, b, relay)
	srv.Shutdown()
	srv.WaitForShutdown()

	p, _, err := a.AddPatient(ctx, Patient{Given: "Offline", Family: "Edit", DOB: "1990-02-03"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.SyncAt(ctx, relay); !errors.Is(err, cvsync.ErrUnreachable) {
		t.Fatalf("pass with the relay down: %v, want ErrUnreachable", err)
	}
	// Back, same disk: the sessions' connections come back by themselves
	// (each within a few seconds: reconnects wait 1 s and a jitter).
	stockRelay(t, port, store)
	if rep := syncRetrying(t, a, relay); rep.Sent == 0 || rep.Resent != 0 {
		t.Fatalf("after the relay came back: %+v", rep)
	}
	syncRetrying(t, b, relay)
	if _, err := b.GetPatient(ctx, p.MRN); err != nil {
		t.Fatalf("the edit made while the relay was down did not arrive: %v", err)
	}
}

// TestUserDoesNotWaitForAPass: the screens ask who is signed in all the
// time; while a sync pass holds the session (a slow relay can take
// seconds to answer), the answer does not wait for it.
func TestUserDoesNotWaitForAPass(t *testing.T) {
	f := newFixture(t)
	a := f.mustSignIn("Maria Admin", adminPass)
	a.mu.Lock()
	defer a.mu.Unlock()
	got := make(chan User, 1)
	go func() { got <- a.User() }()
	select {
	case u := <-got:
		if u.Name != "Maria Admin" || u.Role != Admin {
			t.Fatalf("User() = %+v", u)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("User() waited for the session")
	}
}
