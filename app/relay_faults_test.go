package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// cutProxy forwards TCP to a relay and can cut every connection at once,
// as a network that drops mid-publish.
type cutProxy struct {
	l       net.Listener
	target  string
	mu      sync.Mutex
	conns   []net.Conn
	sent    atomic.Int64 // bytes from the clients to the relay
	cutAt   atomic.Int64 // cut when sent passes this (0: never)
	cutDone chan struct{}
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: target, cutDone: make(chan struct{}, 1)}
	t.Cleanup(func() { l.Close(); p.cut() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go io.Copy(c, up)
			go func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := up.Write(buf[:n]); werr != nil {
							return
						}
						if at := p.cutAt.Load(); at > 0 && p.sent.Add(int64(n)) > at {
							p.cutAt.Store(0)
							p.cut()
							p.cutDone <- struct{}{}
							return
						}
					}
					if err != nil {
						up.Close()
						return
					}
				}
			}()
		}
	}()
	return p
}

func (p *cutProxy) url() string { return "nats://" + p.l.Addr().String() }

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// addBigNotes writes n visits whose notes are 400 KB of text that does
// not compress much: about 300 KB sealed each.
func addBigNotes(t *testing.T, s *Session, mrn string, n int) {
	t.Helper()
	raw := make([]byte, 75_000)
	for range n {
		rand.Read(raw)
		text := base64.StdEncoding.EncodeToString(raw) // 100,000 characters
		if _, err := s.AddEncounter(context.Background(), mrn, SOAP{Subjective: text, Objective: text[1:] + "x", Assessment: text[2:] + "xy", Plan: text[3:] + "xyz"}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRelayNetworkCutMidPublish: the connection drops while a long batch
// is being sent; the pass fails with a clear error and loses nothing;
// the next one sends the rest, and the other computer gets all of it,
// whole.
func TestRelayNetworkCutMidPublish(t *testing.T) {
	_, _, a, b := twoMachines(t)
	ctx := context.Background()
	srv := stockRelay(t, 0, t.TempDir())
	proxy := newCutProxy(t, srv.Addr().String())
	relay := RelayPlace(RelayLink{URL: proxy.url()})
	mustSyncAt(t, a, relay)
	mustSyncAt(t, b, relay)
	p, _, err := a.AddPatient(ctx, Patient{Given: "Cut", Family: "Midway", DOB: "1977-07-07"})
	if err != nil {
		t.Fatal(err)
	}
	addBigNotes(t, a, p.MRN, 12) // a few MB: several parts through a 1 MB limit
	proxy.sent.Store(0)
	proxy.cutAt.Store(2 << 20)
	_, err = a.SyncAt(ctx, relay)
	select {
	case <-proxy.cutDone:
	default:
		t.Fatalf("the pass ended (%v) before the cut", err)
	}
	if err == nil {
		t.Log("the pass finished over the reconnected link despite the cut")
	}
	var rep SyncReport
	for range 150 { // reconnects wait 1 s and a jitter of up to 2 s
		if rep, err = a.SyncAt(ctx, relay); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("after the cut: %v", err)
	}
	for range 150 {
		if rep, err = b.SyncAt(ctx, relay); err == nil && rep.Refused == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil || rep.Refused > 0 {
		t.Fatalf("the other computer after the cut: %v %+v", err, rep)
	}
	c, err := b.OpenChart(ctx, p.MRN)
	if err != nil || len(c.Encounters) != 12 {
		t.Fatalf("the chart arrived with %d of 12 visits (%v)", len(c.Encounters), err)
	}
}

// TestRelayCarriesA64MBBacklog: a computer back from days offline with
// 64 MB of sealed batches sends them all through a stock relay (1 MB per
// message: long batches go in parts), and the other computer takes them.
func TestRelayCarriesA64MBBacklog(t *testing.T) {
	if testing.Short() {
		t.Skip("64 MB")
	}
	_, _, a, b := twoMachines(t)
	ctx := context.Background()
	srv := stockRelay(t, 0, t.TempDir())
	relay := RelayPlace(RelayLink{URL: srv.ClientURL()})
	p, _, err := a.AddPatient(ctx, Patient{Given: "Back", Family: "Log", DOB: "1980-08-08"})
	if err != nil {
		t.Fatal(err)
	}
	addBigNotes(t, a, p.MRN, 230)
	mustSyncAt(t, a, relay)
	var sealed int64
	a.general.QueryRow(`SELECT sum(length(env)) FROM sync_log`).Scan(&sealed)
	if sealed < 64<<20 {
		t.Fatalf("the backlog is %d MB, want at least 64", sealed>>20)
	}
	for {
		rep := mustSyncAt(t, b, relay)
		if rep.Applied == 0 {
			break
		}
	}
	c, err := b.OpenChart(ctx, p.MRN)
	if err != nil || len(c.Encounters) != 230 {
		t.Fatalf("the chart arrived with %d of 230 visits (%v)", len(c.Encounters), err)
	}
}
