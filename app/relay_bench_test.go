package app

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	cvsync "github.com/clinicvault/clinicvault/sync"
)

// BenchmarkRelayPropagation measures a change's way through the relay to
// a computer that watches it, both computers running Replicate as the
// window and `sync --watch` do: from the change committed on A to its
// batch applied on B (goals: median at most 100 ms, p99 at most 1 s).
// Run it with -benchtime=200x for a p99.
func BenchmarkRelayPropagation(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	dir := b.TempDir()
	a := f.mustSignIn("Maria Admin", adminPass)
	a.Sync(ctx, dir)
	bv := pair(b, f, a, dir, "bench")
	a.Sync(ctx, dir)
	bs := signInOn(b, f, bv, "Maria Admin", adminPass)
	bs.Sync(ctx, dir)
	srv := stockRelay(&testing.T{}, 0, b.TempDir())
	defer srv.Shutdown()
	relay := RelayLink{URL: srv.ClientURL()}
	a.SyncAt(ctx, RelayPlace(relay))
	bs.SyncAt(ctx, RelayPlace(relay))
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	applied := make(chan struct{}, 100)
	go a.Replicate(wctx, ReplicateOptions{Relay: relay, Poll: time.Second})
	go bs.Replicate(wctx, ReplicateOptions{Relay: relay, Poll: time.Second, OnPass: func(p SyncPass) {
		if p.Report.Applied > 0 {
			applied <- struct{}{}
		}
	}})
	time.Sleep(200 * time.Millisecond) // both watching
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for len(applied) > 0 {
			<-applied
		}
		start := time.Now()
		if _, _, err := a.AddPatient(ctx, Patient{Given: "Prop", Family: "Agation", DOB: "1990-01-01"}); err != nil {
			b.Fatal(err)
		}
		select {
		case <-applied:
		case <-time.After(10 * time.Second):
			b.Fatal("the change did not arrive in 10 s")
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Microseconds())/1000, "ms-p99")
}

// BenchmarkRelayCatchUp measures a computer catching up on about 100,000
// field changes through the relay (goal: at least 50,000 a second), the
// same catch-up through a local folder in the same run, and the bytes the
// relay stores per changed field.
func BenchmarkRelayCatchUp(b *testing.B) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := newFixture(b)
		dir := b.TempDir()
		a := f.mustSignIn("Maria Admin", adminPass)
		a.Sync(ctx, dir)
		viaRelay := signInOn(b, f, pair(b, f, a, dir, "relay"), "Maria Admin", adminPass)
		a.Sync(ctx, dir)
		viaFolder := signInOn(b, f, pair(b, f, a, dir, "folder"), "Maria Admin", adminPass)
		a.Sync(ctx, dir)
		srv := stockRelay(&testing.T{}, 0, b.TempDir())
		relay := RelayPlace(RelayLink{URL: srv.ClientURL()})
		viaRelay.Sync(ctx, dir)
		viaFolder.Sync(ctx, dir)
		before, _ := changeFields(b, a)
		if err := a.AddPatients(ctx, DemoPatients(8000, 7, f.clk.Now()), nil); err != nil {
			b.Fatal(err)
		}
		fields, _ := changeFields(b, a)
		fields -= before
		if _, err := a.SyncAt(ctx, relay); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Sync(ctx, dir); err != nil {
			b.Fatal(err)
		}
		catchUp := func(s *Session, p Place) time.Duration {
			start := time.Now()
			for {
				rep, err := s.SyncAt(ctx, p)
				if err != nil {
					b.Fatal(err)
				}
				if rep.Applied == 0 {
					return time.Since(start)
				}
			}
		}
		b.StartTimer()
		relayTime := catchUp(viaRelay, relay)
		b.StopTimer()
		folderTime := catchUp(viaFolder, FolderPlace(dir))
		r, err := a.relayFor(ctx, relay.Relay)
		if err != nil {
			b.Fatal(err)
		}
		js, _ := jetstream.New(r.Conn())
		st, err := js.Stream(ctx, cvsync.RelayStream(cvsync.RelayVaultName(a.kr.VaultID)))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(fields), "fields")
		b.ReportMetric(float64(fields)/relayTime.Seconds(), "relay-fields/s")
		b.ReportMetric(float64(fields)/folderTime.Seconds(), "folder-fields/s")
		b.ReportMetric(relayTime.Seconds()/folderTime.Seconds(), "relay/folder-time")
		b.ReportMetric(float64(st.CachedInfo().State.Bytes)/float64(fields), "relay-bytes/field")
		srv.Shutdown()
		b.StartTimer()
	}
}
