package app

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// waitFor polls cond for up to 20 s: the loops run on real goroutines.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(20 * time.Second) // a span, not a date
	for !cond() {
		select {
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// passLog collects Replicate's passes.
type passLog struct {
	mu     sync.Mutex
	passes []SyncPass
}

func (l *passLog) add(p SyncPass) { l.mu.Lock(); l.passes = append(l.passes, p); l.mu.Unlock() }
func (l *passLog) snapshot() []SyncPass {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]SyncPass(nil), l.passes...)
}

// TestReplicateFollowsTheFolderAndStops: the one watching loop (the
// window's and `sync --watch`'s) waits for a folder to be chosen, takes
// another computer's change without being asked, looks without a pass
// when nothing is new, and ends cleanly on cancel and on lock.
func TestReplicateFollowsTheFolderAndStops(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	dir := t.TempDir()
	a := f.mustSignIn("Maria Admin", adminPass)
	bv := pair(t, f, a, dir, "laptop")
	mustSync(t, a, dir)
	b := signInOn(t, f, bv, "Maria Admin", adminPass)
	if err := b.SetSyncFolder(ctx, ""); err != nil {
		t.Fatal(err)
	}

	var log passLog
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- b.Replicate(rctx, ReplicateOptions{Poll: 20 * time.Millisecond, SettingPoll: 20 * time.Millisecond, OnPass: log.add})
	}()
	time.Sleep(150 * time.Millisecond)
	if n := len(log.snapshot()); n != 0 {
		t.Fatalf("%d passes with no folder chosen", n)
	}
	if err := b.SetSyncFolder(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.AddPatient(ctx, Patient{Given: "Ana", Family: "Silva", DOB: "1980-01-01"}); err != nil {
		t.Fatal(err)
	}
	mustSync(t, a, dir)
	waitFor(t, "the patient on the laptop", func() bool {
		got, _ := b.SearchPatients(ctx, "silva", 5)
		return len(got) == 1
	})
	waitFor(t, "an idle look after the pass", func() bool {
		ps := log.snapshot()
		return len(ps) > 0 && ps[len(ps)-1].Idle
	})
	applied := 0
	for _, p := range log.snapshot() {
		if p.Folder != dir || p.Err != nil {
			t.Fatalf("pass %+v", p)
		}
		applied += p.Report.Applied
		if p.Idle && (p.Report.Sent+p.Report.Applied > 0) {
			t.Fatalf("an idle look reports work: %+v", p)
		}
	}
	if applied == 0 {
		t.Fatalf("no pass applied the desk's batch: %+v", log.snapshot())
	}

	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Replicate after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Replicate did not stop on cancel")
	}

	// Again, then the session locks: it stops with ErrLocked and reports
	// nothing after.
	go func() {
		done <- b.Replicate(ctx, ReplicateOptions{Folder: dir, Poll: 20 * time.Millisecond, OnPass: log.add})
	}()
	time.Sleep(100 * time.Millisecond)
	b.Lock(ctx)
	select {
	case err := <-done:
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("Replicate after lock: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Replicate did not stop when the session locked")
	}
	n := len(log.snapshot())
	time.Sleep(100 * time.Millisecond)
	if len(log.snapshot()) != n {
		t.Fatal("a pass was reported after the lock")
	}
	if err := b.Replicate(ctx, ReplicateOptions{Folder: dir}); !errors.Is(err, ErrLocked) {
		t.Fatalf("Replicate on a locked session: %v", err)
	}
}

// TestServeBackupsRunsWhenDueAndStops: the daily backup loop backs up at
// once when due, not again until due, and ends on lock.
func TestServeBackupsRunsWhenDueAndStops(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	s := f.mustSignIn("Maria Admin", adminPass)
	dir := filepath.Join(t.TempDir(), "backups")
	if err := s.SetBackupFolder(ctx, dir); err != nil {
		t.Fatal(err)
	}
	type check struct {
		ran bool
		err error
	}
	var mu sync.Mutex
	var got []check
	done := make(chan error, 1)
	go func() {
		done <- s.ServeBackups(ctx, 20*time.Millisecond, func(ran bool, err error) {
			mu.Lock()
			got = append(got, check{ran, err})
			mu.Unlock()
		})
	}()
	waitFor(t, "two checks", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 2 })
	mu.Lock()
	first, second := got[0], got[1]
	mu.Unlock()
	if !first.ran || first.err != nil || second.ran || second.err != nil {
		t.Fatalf("checks: %+v then %+v; want a backup, then none due", first, second)
	}
	if list, _ := ListBackups(dir); len(list) != 1 {
		t.Fatalf("%d backups", len(list))
	}
	s.Lock(ctx)
	select {
	case err := <-done:
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("ServeBackups after lock: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ServeBackups did not stop when the session locked")
	}
}
