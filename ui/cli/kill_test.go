package cli

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// cliCommandAt is cliCommand with the child's clock set off from the
// test's: each child gets its own TOTP step, so that a harness of many
// processes never waits for a code.
func cliCommandAt(off time.Duration, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CLINICVAULT_AS_CLI=1", "LANG=en_US.UTF-8", "CLINICVAULT_TEST_NOW="+processNow().Add(off).Format(time.RFC3339Nano))
	return cmd
}

// TestKillNineLosesNothing (#15, item 7) kills a child process with
// SIGKILL at a random moment of an import, a backup and a sync pass, N
// times each (CLINICVAULT_KILL_N, 2 in CI), and checks after each kill,
// in new processes: an import is there whole or not at all, and whole
// when it said so; the next backup is made and verifies; the next sync
// pass completes; the audit chain verifies; no scratch file of ours is
// left beside the vault.
func TestKillNineLosesNothing(t *testing.T) {
	n := 2
	if v, err := strconv.Atoi(os.Getenv("CLINICVAULT_KILL_N")); err == nil && v > 0 {
		n = v
	}
	tmp := t.TempDir()
	data, share, backups := filepath.Join(tmp, "vault"), filepath.Join(tmp, "share"), filepath.Join(tmp, "backups")
	os.MkdirAll(share, 0o700)
	os.MkdirAll(backups, 0o700)
	pass := filepath.Join(tmp, "pass")
	os.WriteFile(pass, []byte(adminPass+"\n"), 0o600)
	out, err := cliCommand("--data", data, "--passphrase-file", pass, "init", "--practice", "Riverside", "--admin", "Maria Admin").CombinedOutput()
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	u, _ := url.Parse(uriLine.FindString(string(out)))
	secret := u.Query().Get("secret")
	step := time.Duration(0)
	as := func(args ...string) *exec.Cmd {
		step += 2 * time.Minute // a TOTP step of its own
		code, _ := totp.GenerateCode(secret, processNow().Add(step))
		return cliCommandAt(step, append([]string{"--data", data, "--user", "Maria Admin", "--passphrase-file", pass, "--totp", code}, args...)...)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := as(args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// A sheet of 3,000 patients, each import of it a new family name.
	sheet := func(i int) string {
		var b strings.Builder
		b.WriteString("Given,Family,Date of birth\n")
		for r := range 3000 {
			fmt.Fprintf(&b, "Kill%d,Nine%dx%d,1970-01-%02d\n", r, i, r, r%28+1)
		}
		p := filepath.Join(tmp, fmt.Sprintf("sheet%d.csv", i))
		os.WriteFile(p, []byte(b.String()), 0o600)
		return p
	}
	imported := regexp.MustCompile(`(?m)^imported: (\d+)$`)
	found := func(family string) int {
		out := run("patient", "search", family)
		return strings.Count(out, "\n")
	}
	kill := func(cmd *exec.Cmd) (string, bool) {
		var outb strings.Builder
		cmd.Stdout, cmd.Stderr = &outb, &outb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
			return outb.String(), false
		case <-time.After(time.Duration(30+rand.IntN(500)) * time.Millisecond):
		}
		cmd.Process.Kill()
		<-done
		return outb.String(), true
	}
	check := func(what string) {
		t.Helper()
		if out, err := as("audit", "verify").CombinedOutput(); err != nil {
			t.Fatalf("after a kill during %s, the audit chain: %v\n%s", what, err, out)
		}
		entries, _ := os.ReadDir(data)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".clinicvault-") || strings.HasPrefix(e.Name(), ".tmp-") || strings.HasSuffix(e.Name(), ".tmp") {
				t.Fatalf("after a kill during %s and the next run, a scratch file is left in the data folder: %s", what, e.Name())
			}
		}
	}
	kills := 0
	for i := range n {
		// Import.
		family := fmt.Sprintf("Nine%dx", i)
		out, killed := kill(as("import", sheet(i)))
		kills += b2i(killed)
		// The first row and the last: one transaction, so both or neither.
		first, last := found(family+"0"), found(family+"2999")
		if m := imported.FindStringSubmatch(out); m != nil && (first != 1 || last != 1) {
			t.Fatalf("the import said %s and was then killed; first row found %d, last %d", m[0], first, last)
		}
		if first != last {
			t.Fatalf("a killed import left part of the sheet: first row found %d, last %d (all or nothing)", first, last)
		}
		check("an import")
		// Backup. What a killed one left is old by the next backup (it
		// sweeps our own leftovers an hour old, never one in use).
		_, killed = kill(as("backup", "create", "--out", backups))
		kills += b2i(killed)
		age(t, backups, 2*time.Hour)
		bout := run("backup", "create", "--out", backups)
		file := regexp.MustCompile(`(?m)\S+\.cvbackup`).FindString(bout)
		if file == "" {
			t.Fatalf("the backup after a killed one printed no file:\n%s", bout)
		}
		if out, err := as("backup", "verify", file).CombinedOutput(); err != nil {
			t.Fatalf("the backup after a killed one does not verify: %v\n%s", err, out)
		}
		check("a backup")
		left, _ := os.ReadDir(backups)
		for _, e := range left {
			if strings.HasPrefix(e.Name(), ".clinicvault-") {
				t.Fatalf("after a kill during a backup and the next backup, a scratch file is left in the backup folder: %s", e.Name())
			}
		}
		// Sync (the first pass carries the imports).
		_, killed = kill(as("sync", "--folder", share))
		kills += b2i(killed)
		run("sync", "--folder", share)
		check("a sync pass")
	}
	t.Logf("%d of %d runs killed mid-way", kills, 3*n)
}

// age sets back the times of dir's hidden entries and what is directly
// inside them.
func age(t *testing.T, dir string, by time.Duration) {
	t.Helper()
	then := time.Now().Add(-by)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if inner, err := os.ReadDir(p); err == nil {
			for _, i := range inner {
				os.Chtimes(filepath.Join(p, i.Name()), then, then)
			}
		}
		os.Chtimes(p, then, then)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
