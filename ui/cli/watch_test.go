package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	cvsync "github.com/clinicvault/clinicvault/sync"
)

// TestCLISyncWatch: `sync --watch` runs the same loop as the window
// (app's Session.Replicate): a patient registered meanwhile by another
// command on this computer goes out without a word from anyone, idle
// looks print nothing, and Ctrl+C (the context ending) stops it with
// status 0.
func TestCLISyncWatch(t *testing.T) {
	h := newHarness(t)
	h.init()
	folder := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncWriter{w: &bytes.Buffer{}}
	errs := &syncWriter{w: &bytes.Buffer{}}
	read := func(w *syncWriter) string { w.mu.Lock(); defer w.mu.Unlock(); return w.w.String() }
	args := []string{"--data", h.dir, "--user", "Maria Admin", "--passphrase-file", h.file("pass-watch", adminPass+"\n"), "--totp", h.code("Maria Admin"),
		"sync", "--folder", folder, "--watch"}
	h.mu.Lock()
	h.now = h.now.Add(30 * time.Second)
	h.mu.Unlock()
	exit := make(chan int, 1)
	go func() { exit <- Main(ctx, args, IO{In: strings.NewReader(""), Out: out, Err: errs}, h.newVault) }()
	wait := func(what string, cond func() bool) {
		t.Helper()
		timeout := time.After(20 * time.Second) // a span, not a date
		for !cond() {
			select {
			case <-timeout:
				t.Fatalf("timed out waiting for %s; out:\n%s\nerr:\n%s", what, read(out), read(errs))
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	wait("the watch to start", func() bool { return strings.Contains(read(errs), "watching the folder") })
	first := read(out)
	code, o, e := h.as("Maria Admin", adminPass, "", "patient", "add", "--given", "Ana", "--family", "Watched", "--dob", "1980-01-01")
	h.expect(0, code, o, e)
	wait("the new patient to go out", func() bool { return strings.Count(read(out), "sent: 1") > strings.Count(first, "sent: 1") })
	time.Sleep(2500 * time.Millisecond) // two idle looks at least
	before := read(out)
	time.Sleep(1500 * time.Millisecond)
	if after := read(out); after != before {
		t.Fatalf("idle looks printed %q", strings.TrimPrefix(after, before))
	}
	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit %d after Ctrl+C; err:\n%s", code, read(errs))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("sync --watch did not stop")
	}
	// What it sent is in the folder: this computer's log has batches.
	devs, err := cvsync.Folder{Dir: folder}.Devices()
	if err != nil || len(devs) != 1 {
		t.Fatalf("devices in the folder: %v, %v", devs, err)
	}
	if seqs, err := (cvsync.Folder{Dir: folder}).Seqs(devs[0], 0); err != nil || len(seqs) < 2 {
		t.Fatalf("batches in the folder: %v, %v", seqs, err)
	}
}
