package cli

import (
	"bufio"
	"io"
	neturl "net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
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

// TestTwoProcessesPairThroughRelayServe: three real processes — the
// practice's relay (relay serve), the desk, and a laptop that shares no
// folder with it. The desk's admin claims the relay, registers a patient
// and invites the laptop through the relay; the laptop joins given only
// the relay's address and the code, then finds the patient with a plain
// `sync` (the relay, pinned, came with its approval).
func TestTwoProcessesPairThroughRelayServe(t *testing.T) {
	tmp := t.TempDir()
	relayCmd := cliCommand("--data", filepath.Join(tmp, "unused"), "relay", "serve", "--listen", "127.0.0.1:0", "--store", filepath.Join(tmp, "relay"))
	relayOut, _ := relayCmd.StdoutPipe()
	if err := relayCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relayCmd.Process.Signal(syscall.SIGTERM); relayCmd.Wait() })
	printed := map[string]string{}
	sc := bufio.NewScanner(relayOut)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ": "); ok {
			printed[k] = v
		}
		if printed["claim"] != "" {
			break
		}
	}
	go io.Copy(io.Discard, relayOut)
	url, fp, claim := printed["relay"], printed["fingerprint"], printed["claim"]

	aDir, bDir := filepath.Join(tmp, "desk"), filepath.Join(tmp, "laptop")
	pass := filepath.Join(tmp, "pass")
	os.WriteFile(pass, []byte(adminPass+"\n"), 0o600)
	out, err := cliCommand("--data", aDir, "--passphrase-file", pass, "init", "--practice", "Riverside", "--admin", "Maria Admin").CombinedOutput()
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	u, _ := neturl.Parse(uriLine.FindString(string(out)))
	secret := u.Query().Get("secret")
	code, _ := totp.GenerateCode(secret, processNow())
	desk := cliCommand("--data", aDir, "--user", "Maria Admin", "--passphrase-file", pass, "--totp", code, "shell")
	desk.Stdin = strings.NewReader(strings.Join([]string{
		"settings relay " + url + " --fingerprint " + fp + " --claim " + strings.ToLower(claim),
		"patient add --given José --family Núñez --dob 1980-03-02",
		"sync --relay " + url,
		"device invite --relay " + url + " --yes",
	}, "\n") + "\n")
	stdout, _ := desk.StdoutPipe()
	var deskErr strings.Builder
	desk.Stderr = &deskErr
	if err := desk.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	var inviteCode string
	var deskLines []string
	deadline := time.After(90 * time.Second)
	for inviteCode == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the desk ended before printing a code:\n%s\n%s", strings.Join(deskLines, "\n"), deskErr.String())
			}
			deskLines = append(deskLines, l)
			if m := regexp.MustCompile(`^code: (\S+)$`).FindStringSubmatch(l); m != nil {
				inviteCode = m[1]
			}
		case <-deadline:
			t.Fatal("no code")
		}
	}
	join := cliCommand("--data", bDir, "join", "--relay", url, "--code", inviteCode, "--name", "Dr Haddad's laptop")
	joinOut, err := join.CombinedOutput()
	if err != nil {
		t.Fatalf("join --relay: %v\n%s", err, joinOut)
	}
	for l := range lines {
		deskLines = append(deskLines, l)
	}
	if err := desk.Wait(); err != nil {
		t.Fatalf("desk: %v\n%s\n%s", err, strings.Join(deskLines, "\n"), deskErr.String())
	}
	deskText := strings.Join(deskLines, "\n")
	if !strings.Contains(deskText, "claimed: "+url) || !strings.Contains(deskText, "approved: ") {
		t.Fatalf("the desk's output:\n%s", deskText)
	}
	m := regexp.MustCompile(`(?m)^fingerprint: (\d{3} \d{3} \d{3} \d{3})$`).FindStringSubmatch(deskText)
	if m == nil || !strings.Contains(string(joinOut), "fingerprint: "+m[1]) {
		t.Fatalf("fingerprints: desk\n%s\nlaptop\n%s", deskText, joinOut)
	}
	next, _ := totp.GenerateCode(secret, processNow().Add(30*time.Second))
	laptop := cliCommand("--data", bDir, "--user", "Maria Admin", "--passphrase-file", pass, "--totp", next, "shell")
	laptop.Stdin = strings.NewReader("sync\npatient search nunez\n")
	out, err = laptop.CombinedOutput()
	if err != nil {
		t.Fatalf("laptop: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Núñez, José\t1980-03-02") {
		t.Fatalf("the laptop does not have the patient:\n%s", out)
	}
}
