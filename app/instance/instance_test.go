package instance

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// claim takes dir for the test and lets it go at the end.
func claim(t *testing.T, dir string) *Holder {
	t.Helper()
	h, err := Claim(dir)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// Two claims on one folder exclude each other even within one process
// (flock and LockFileEx lock per open file), and the folder is free again
// once the first lets go.
func TestSecondClaimIsRefusedUntilTheFirstCloses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ClinicVault")
	h := claim(t, dir)
	if _, err := Claim(dir); !errors.Is(err, ErrHeld) {
		t.Fatalf("second Claim: %v, want ErrHeld", err)
	}
	if runtime.GOOS != "windows" {
		for name, want := range map[string]os.FileMode{LockFile: 0o600, AddressFile: 0o600, ".": 0o700} {
			st, err := os.Stat(filepath.Join(dir, name))
			if err != nil || st.Mode().Perm() != want {
				t.Errorf("%s: %v %v, want mode %v", name, st.Mode().Perm(), err, want)
			}
		}
	}
	h.Close()
	if _, err := os.Stat(filepath.Join(dir, AddressFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s left after Close: %v", AddressFile, err)
	}
	claim(t, dir)
}

// A second start brings the holder's window forward: Raise returns once
// raise has run, and Open reports raised without taking the folder.
func TestRaiseBringsTheHolderForward(t *testing.T) {
	dir := t.TempDir()
	h := claim(t, dir)
	raised := make(chan struct{}, 4)
	h.Serve(func() { raised <- struct{}{} })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := Raise(ctx, dir); err != nil {
		t.Fatalf("Raise: %v", err)
	}
	select {
	case <-raised:
	default:
		t.Fatal("Raise returned before the window was raised")
	}
	other, got, err := Open(ctx, dir)
	if err != nil || !got || other != nil {
		t.Fatalf("Open: %v %v %v, want raised", other, got, err)
	}
	if len(raised) != 1 {
		t.Fatalf("raised %d more times, want 1", len(raised))
	}
}

// A request with another token is refused: the window stays where it is
// and the asker hears nothing.
func TestWrongTokenIsRefused(t *testing.T) {
	dir := t.TempDir()
	h := claim(t, dir)
	raised := make(chan struct{}, 1)
	h.Serve(func() { raised <- struct{}{} })

	p := filepath.Join(dir, AddressFile)
	b, _ := os.ReadFile(p)
	var a address
	if err := json.Unmarshal(b, &a); err != nil || len(a.Token) != 2*tokenSize {
		t.Fatalf("address file %q: %v", b, err)
	}
	for _, bad := range []string{"", a.Token[:len(a.Token)-1], flip(a.Token), a.Token + "00"} {
		a2 := a
		a2.Token = bad
		if err := writeAddress(dir, a2); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := Raise(ctx, dir)
		cancel()
		if err == nil {
			t.Errorf("token %q accepted", bad)
		}
	}
	if len(raised) != 0 {
		t.Fatal("a wrong token raised the window")
	}
	if !h.matches(raiseLabel + " " + a.Token + "\n") {
		t.Fatal("the right token does not match")
	}
}

// flip changes the last hex digit of s.
func flip(s string) string {
	last := s[len(s)-1]
	if last == '0' {
		return s[:len(s)-1] + "1"
	}
	return s[:len(s)-1] + "0"
}

// An address file left by a process that died (the system let its lock
// go) does not block a start: Open takes the folder at once.
func TestStaleAddressFileDoesNotBlockAStart(t *testing.T) {
	dir := t.TempDir()
	stale := address{Port: 9, PID: 999999, Token: "00"}
	if err := writeAddress(dir, stale); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, LockFile), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h, raised, err := Open(ctx, dir)
	if err != nil || raised {
		t.Fatalf("Open: %v raised=%v", err, raised)
	}
	defer h.Close()
	b, _ := os.ReadFile(filepath.Join(dir, AddressFile))
	var a address
	json.Unmarshal(b, &a)
	if a.Port == stale.Port || a.PID != os.Getpid() {
		t.Fatalf("address file not replaced: %s", b)
	}
}

// A holder that never serves (its window hangs) leaves a second start
// with ErrNoAnswer once its time is up, not waiting for ever.
func TestHungHolderIsNoAnswer(t *testing.T) {
	dir := t.TempDir()
	claim(t, dir) // never serves
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	h, raised, err := Open(ctx, dir)
	if !errors.Is(err, ErrNoAnswer) || raised || h != nil {
		t.Fatalf("Open: %v %v %v, want ErrNoAnswer", h, raised, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Open took %v", d)
	}
}

// A holder that is closing hands the folder to the next start: Open
// keeps trying and takes it once the lock is let go.
func TestOpenTakesTheFolderWhenTheHolderEnds(t *testing.T) {
	dir := t.TempDir()
	h, err := Claim(dir)
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(100*time.Millisecond, func() { h.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h2, raised, err := Open(ctx, dir)
	if err != nil || raised {
		t.Fatalf("Open: %v raised=%v", err, raised)
	}
	h2.Close()
}
