package sync

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startNATS runs a stock JetStream server, as an operator would.
func startNATS(t *testing.T, maxPayload int32) *server.Server {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), MaxPayload: maxPayload, NoSigs: true})
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

func dialTest(t *testing.T, s *server.Server, vault string) *Relay {
	t.Helper()
	r, err := DialRelay(context.Background(), RelayOptions{URL: s.ClientURL(), VaultID: vault, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// TestRelayKeepsTheFoldersPromises: a batch's place is written once, a
// republish of the same bytes is harmless, long batches come back whole,
// paths list as folders do, removed paths read as absent.
func TestRelayKeepsTheFoldersPromises(t *testing.T) {
	s := startNATS(t, 48<<10)
	vault, dev := uuid.NewString(), uuid.NewString()
	r := dialTest(t, s, vault)
	if err := r.Put(dev, 1, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := r.Put(dev, 1, []byte("other")); !errors.Is(err, ErrExists) {
		t.Fatalf("second Put at the same place: %v, want ErrExists", err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 KB over a 48 KB limit
	if err := r.Put(dev, 2, big); err != nil {
		t.Fatal(err)
	}
	got, err := r.Get(dev, 2)
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("long batch: %d bytes back, err %v", len(got), err)
	}
	if got, _ := r.Get(dev, 1); string(got) != "one" {
		t.Fatalf("batch 1 = %q", got)
	}
	if _, err := r.Get(dev, 3); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing batch: %v", err)
	}
	// Another connection (another computer) sees the device and its log.
	r2 := dialTest(t, s, vault)
	devs, err := r2.Devices()
	if err != nil || !slices.Equal(devs, []string{dev}) {
		t.Fatalf("Devices = %v, %v", devs, err)
	}
	seqs, err := r2.Seqs(dev, 0)
	if err != nil || !slices.Equal(seqs, []uint64{1, 2}) {
		t.Fatalf("Seqs = %v, %v", seqs, err)
	}
	if seqs, _ := r2.Seqs(dev, 1); !slices.Equal(seqs, []uint64{2}) {
		t.Fatalf("Seqs after 1 = %v", seqs)
	}
	if err := r.ReplaceBatch(dev, 1, []byte("genuine")); err != nil {
		t.Fatal(err)
	}
	if got, _ := r2.Get(dev, 1); string(got) != "genuine" {
		t.Fatalf("replaced batch = %q", got)
	}

	for _, p := range []string{"epochs/3/u-a.b", "epochs/3/d-x", "epochs/12/d-x", "audit/dev/000001"} {
		if err := r.WriteOnce(p, []byte(p)); err != nil {
			t.Fatal(p, err)
		}
	}
	if err := r.WriteOnce("epochs/3/d-x", []byte("again")); !errors.Is(err, ErrExists) {
		t.Fatalf("WriteOnce twice: %v", err)
	}
	if err := r.Replace("epochs/3/d-x", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if got, _ := r2.Read("epochs/3/d-x"); string(got) != "new" {
		t.Fatalf("replaced path = %q", got)
	}
	if names, _ := r2.List("epochs/3"); !slices.Equal(names, []string{"d-x", "u-a.b"}) {
		t.Fatalf("List = %v", names)
	}
	if dirs, _ := r2.Dirs("audit"); !slices.Equal(dirs, []string{"dev"}) {
		t.Fatalf("Dirs = %v", dirs)
	}
	if eps, _ := r2.Epochs(); !slices.Equal(eps, []uint32{3, 12}) {
		t.Fatalf("Epochs = %v", eps)
	}
	if err := r.WriteOnce("pairing/abc/offer", []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	if err := r.Remove("pairing/abc/offer"); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Read("pairing/abc/offer"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("removed path: %v", err)
	}
	if _, err := pathSubject("v", "a/../b"); err == nil {
		t.Fatal(".. accepted in a path")
	}
}

// TestRelayWatchHearsAChangeAtOnce: a watcher learns of a batch within
// moments, with polling set far apart.
func TestRelayWatchHearsAChangeAtOnce(t *testing.T) {
	s := startNATS(t, 0)
	vault, dev := uuid.NewString(), uuid.NewString()
	w, r := dialTest(t, s, vault), dialTest(t, s, vault)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	heard := make(chan struct{}, 16)
	go w.Watch(ctx, time.Hour, func() { heard <- struct{}{} })
	time.Sleep(100 * time.Millisecond) // the subscription is in place
	if err := r.Put(dev, 1, []byte("x")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-heard:
	case <-time.After(5 * time.Second):
		t.Fatal("the watcher heard nothing")
	}
}

// TestRelayDownIsUnreachable: a relay that is not there is
// ErrUnreachable, so a pass says so and the work waits.
func TestRelayDownIsUnreachable(t *testing.T) {
	s := startNATS(t, 0)
	url := s.ClientURL()
	s.Shutdown()
	_, err := DialRelay(context.Background(), RelayOptions{URL: url, VaultID: uuid.NewString(), Timeout: time.Second})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("err = %v, want ErrUnreachable", err)
	}
}

// TestRelayDuplicatePublishIsHarmless: the same batch published twice
// (a retry after a lost acknowledgement) leaves one copy; other bytes at
// a taken place are refused and leave the first.
func TestRelayDuplicatePublishIsHarmless(t *testing.T) {
	s := startNATS(t, 0)
	vault, dev := uuid.NewString(), uuid.NewString()
	r := dialTest(t, s, vault)
	for range 3 {
		if err := r.Put(dev, 7, []byte("the batch")); err != nil && !errors.Is(err, ErrExists) {
			t.Fatal(err)
		}
	}
	if err := r.Put(dev, 7, []byte("another")); !errors.Is(err, ErrExists) {
		t.Fatalf("other bytes at a taken place: %v", err)
	}
	if got, _ := r.Get(dev, 7); string(got) != "the batch" {
		t.Fatalf("batch 7 = %q", got)
	}
	st, err := r.js.Stream(context.Background(), RelayStream(RelayVaultName(vault)))
	if err != nil {
		t.Fatal(err)
	}
	info, _ := st.Info(context.Background(), jetstream.WithSubjectFilter(BatchSubject(RelayVaultName(vault), RelayDeviceName(vault, dev), 7)))
	if n := info.State.Subjects[BatchSubject(RelayVaultName(vault), RelayDeviceName(vault, dev), 7)]; n != 1 {
		t.Fatalf("%d copies of batch 7 on the relay", n)
	}
}

// TestRelayLongMessageIsBounded: a message whose head claims a great many
// parts (planted by whoever runs the relay) is refused at once, not read
// into memory part by part.
func TestRelayLongMessageIsBounded(t *testing.T) {
	s := startNATS(t, 0)
	vault, dev := uuid.NewString(), uuid.NewString()
	r := dialTest(t, s, vault)
	subj := BatchSubject(RelayVaultName(vault), RelayDeviceName(vault, dev), 1)
	m := nats.NewMsg(subj)
	m.Data = []byte("x")
	m.Header.Set(hdrParts, "65536")
	if _, err := r.js.PublishMsg(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(dev, 1); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a head claiming 65,536 one-byte parts: %v, want ErrMalformed", err)
	}
}
