package cli

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

// TestKilledBackupLeavesNothingAfterTheNextOne: a backup killed
// (SIGKILL) while its snapshots are being taken leaves its work folder in
// the backup folder; once that is an hour old, the next backup deletes it
// and the folder holds only finished backups (and what is not ours).
func TestKilledBackupLeavesNothingAfterTheNextOne(t *testing.T) {
	tmp := t.TempDir()
	data, out := filepath.Join(tmp, "vault"), filepath.Join(tmp, "usb")
	pass := filepath.Join(tmp, "pass")
	os.WriteFile(pass, []byte(adminPass+"\n"), 0o600)
	initOut, err := cliCommand("--data", data, "--passphrase-file", pass, "init", "--practice", "Riverside", "--admin", "Maria Admin").CombinedOutput()
	if err != nil {
		t.Fatalf("init: %v\n%s", err, initOut)
	}
	u, _ := url.Parse(uriLine.FindString(string(initOut)))
	code := func(secret string) string { c, _ := totp.GenerateCode(secret, processNow()); return c }
	const tries = 3
	setup := []string{"demo --patients 1500"}
	for i := 0; i <= tries; i++ {
		setup = append(setup, fmt.Sprintf("user add \"Backer %d\" --role admin --new-passphrase-file %s", i, pass))
	}
	sh := cliCommand("--data", data, "--user", "Maria Admin", "--passphrase-file", pass, "--totp", code(u.Query().Get("secret")), "shell")
	sh.Stdin = strings.NewReader(strings.Join(setup, "\n") + "\n")
	setupOut, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, setupOut)
	}
	uris := uriLine.FindAllString(string(setupOut), -1)
	if len(uris) != tries+1 {
		t.Fatalf("setup printed %d enrollments:\n%s", len(uris), setupOut)
	}
	secretOf := func(i int) string { v, _ := url.Parse(uris[i]); return v.Query().Get("secret") }
	ours := func() []string {
		m, _ := filepath.Glob(filepath.Join(out, ".clinicvault-*"))
		return m
	}
	foreign := filepath.Join(out, ".clinicvault-snapshot-mine")
	os.MkdirAll(foreign, 0o700)

	left := 0
	for i := 0; i < tries && left == 0; i++ {
		b := cliCommand("--data", data, "--user", fmt.Sprintf("Backer %d", i), "--passphrase-file", pass, "--totp", code(secretOf(i)),
			"backup", "create", "--out", out)
		if err := b.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- b.Wait() }()
		deadline := time.After(60 * time.Second) // a span, not a date
	watching:
		for {
			select {
			case <-exited:
				break watching // finished before it could be killed
			case <-deadline:
				b.Process.Kill()
				t.Fatal("no snapshot folder seen")
			default:
			}
			if m, _ := filepath.Glob(filepath.Join(out, ".clinicvault-snapshot-[0-9]*")); len(m) > 0 {
				b.Process.Kill()
				<-exited
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		left = len(ours()) - 1 // the foreign folder
	}
	if left == 0 {
		t.Skip("every backup finished before it could be killed")
	}
	// An hour on: everything in the backup folder is aged by two.
	old := time.Now().Add(-2 * time.Hour)
	filepath.Walk(out, func(p string, _ os.FileInfo, _ error) error { return os.Chtimes(p, old, old) })

	b := cliCommand("--data", data, "--user", fmt.Sprintf("Backer %d", tries), "--passphrase-file", pass, "--totp", code(secretOf(tries)),
		"backup", "create", "--out", out)
	if o, err := b.CombinedOutput(); err != nil {
		t.Fatalf("backup after the kill: %v\n%s", err, o)
	}
	if m := ours(); len(m) != 1 || m[0] != foreign {
		t.Fatalf("after the next backup the folder still holds %v", m)
	}
	t.Logf("%d leftovers of a killed backup swept", left)
}
