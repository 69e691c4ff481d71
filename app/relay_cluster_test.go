package app

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	cvsync "github.com/clinicvault/clinicvault/sync"
)

// natsCluster runs three JetStream servers routed into one cluster, as
// a group of practices would run for their relay.
func natsCluster(t *testing.T) []*server.Server {
	t.Helper()
	ports := make([]int, 3)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		l.Close()
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	servers := make([]*server.Server, 3)
	for i := range servers {
		o := &server.Options{ServerName: fmt.Sprintf("relay-%d", i+1), Host: "127.0.0.1", Port: -1, JetStream: true,
			StoreDir: t.TempDir(), NoSigs: true,
			Cluster: server.ClusterOpts{Name: "practices", Host: "127.0.0.1", Port: ports[i]},
			Routes:  server.RoutesFromStr(strings.Join(routes, ","))}
		s, err := server.NewServer(o)
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
		t.Cleanup(s.Shutdown)
		servers[i] = s
	}
	deadline := time.After(30 * time.Second) // a span, not a date
	for {
		ready := 0
		for _, s := range servers {
			if s.ReadyForConnections(time.Second) && s.JetStreamIsClustered() && s.JetStreamIsCurrent() {
				ready++
			}
		}
		if ready == 3 {
			break
		}
		select {
		case <-deadline:
			t.Fatal("the cluster did not form")
		case <-time.After(200 * time.Millisecond):
		}
	}
	return servers
}

// TestRelayClusterLosesAServerMidSync: through a three-server cluster
// (streams kept on all three), one server is killed between passes and
// another mid-catch-up is not needed: nothing is lost and sync goes on
// through the other two.
func TestRelayClusterLosesAServerMidSync(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster takes seconds to form")
	}
	_, _, a, b := twoMachines(t)
	ctx := context.Background()
	servers := natsCluster(t)
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.ClientURL())
	}
	relay := RelayPlace(RelayLink{URL: strings.Join(urls, ",")})
	var mrns []string
	for i := range 5 {
		p, _, err := a.AddPatient(ctx, Patient{Given: "Cluster", Family: fmt.Sprintf("Member%c", 'A'+i), DOB: "1966-06-06"})
		if err != nil {
			t.Fatal(err)
		}
		mrns = append(mrns, p.MRN)
	}
	syncRetrying(t, a, relay)
	r, err := a.relayFor(ctx, relay.Relay)
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(r.Conn())
	st, err := js.Stream(ctx, cvsync.RelayStream(cvsync.RelayVaultName(a.kr.VaultID)))
	if err != nil || st.CachedInfo().Config.Replicas != 3 {
		t.Fatalf("the vault's stream on the cluster: %v, replicas %d, want 3", err, st.CachedInfo().Config.Replicas)
	}
	for i := range 200 {
		p, _, err := a.AddPatient(ctx, Patient{Given: "Cluster", Family: fmt.Sprintf("Later%03d", i), DOB: "1966-06-06"})
		if err != nil {
			t.Fatal(err)
		}
		mrns = append(mrns, p.MRN)
	}
	// The server A is connected to goes away while A sends.
	gone := r.Conn().ConnectedServerName()
	passDone := make(chan error, 1)
	go func() {
		_, err := a.SyncAt(ctx, relay)
		passDone <- err
	}()
	for _, s := range servers {
		if s.Name() == gone {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}
	t.Logf("the pass cut by the loss of %s: %v", gone, <-passDone)
	syncRetrying(t, a, relay)
	syncRetrying(t, b, relay)
	for _, m := range mrns {
		if _, err := b.GetPatient(ctx, m); err != nil {
			t.Fatalf("patient %s lost with server %s: %v", m, gone, err)
		}
	}
}

// syncRetrying runs a pass, again while the relay elects new leaders
// (a few seconds after a server is lost).
func syncRetrying(t *testing.T, s *Session, p Place) SyncReport {
	t.Helper()
	var err error
	for range 60 {
		var rep SyncReport
		if rep, err = s.SyncAt(context.Background(), p); err == nil {
			return rep
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("sync through the cluster: %v", err)
	return SyncReport{}
}
