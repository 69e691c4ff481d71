package cli

import (
	"bufio"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRelayServePrintsAndStops runs relay serve as its own process: it
// prints the lines scripts read (relay:, fingerprint:, claim:), stops
// cleanly on SIGTERM (as systemd stops it), and a restart on the same
// store shows the same fingerprint and claim code.
func TestRelayServePrintsAndStops(t *testing.T) {
	store := t.TempDir()
	start := func() (map[string]string, func() int) {
		cmd := cliCommand("--data", t.TempDir(), "relay", "serve", "--listen", "127.0.0.1:0", "--store", store)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		sc := bufio.NewScanner(out)
		done := make(chan struct{})
		go func() {
			for sc.Scan() {
				if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
					got[k] = v
				}
				if _, ok := got["claim"]; ok {
					break
				}
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatal("relay serve printed nothing in 30 s")
		}
		return got, func() int {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
			return cmd.ProcessState.ExitCode()
		}
	}
	first, stop := start()
	if !regexp.MustCompile(`^nats://127\.0\.0\.1:\d+$`).MatchString(first["relay"]) ||
		!regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(first["fingerprint"]) ||
		!regexp.MustCompile(`^[0-9A-Z]{5}(-[0-9A-Z]{5}){3}$`).MatchString(first["claim"]) {
		t.Fatalf("relay serve printed %q", first)
	}
	if code := stop(); code != 0 {
		t.Fatalf("relay serve exited with %d on SIGTERM", code)
	}
	again, stop := start()
	defer stop()
	if again["fingerprint"] != first["fingerprint"] || again["claim"] != first["claim"] {
		t.Fatalf("after a restart: %q, before: %q", again, first)
	}
}
