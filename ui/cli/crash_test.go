package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinicvault/clinicvault/app"
)

// crashForTest is a bug: a nil map written to, with a patient's name in
// hand (which the crash log must not show).
//
//go:noinline
func crashForTest(name string) {
	var m map[string]string
	m[name] = name
}

// checkCrash checks what a user and support get of a panic: exit status
// 1, one sentence on stderr naming the log, and a log in dir/crash-logs
// with the panic's type and stack, no patient data, no passphrase.
func checkCrash(t *testing.T, dir string, code int, stderr string) {
	t.Helper()
	if code != ExitError {
		t.Errorf("exit status %d, want %d", code, ExitError)
	}
	if strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "goroutine") || !strings.Contains(stderr, "internal error") {
		t.Errorf("stderr %q, want one sentence", stderr)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, app.CrashLogDir, "crash-*.log"))
	if len(logs) != 1 {
		t.Fatalf("crash logs %v, want one", logs)
	}
	if !strings.Contains(stderr, logs[0]) {
		t.Errorf("stderr %q does not name the log %s", stderr, logs[0])
	}
	b, _ := os.ReadFile(logs[0])
	log := string(b)
	for _, want := range []string{"panic value of type: runtime.", "crashForTest", "goroutine", ".go:"} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %q:\n%s", want, log)
		}
	}
	for _, secret := range []string{"Núñez", "José", adminPass} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds %q:\n%s", secret, log)
		}
	}
	if fi, err := os.Stat(logs[0]); err == nil && fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("the log's mode is %v", fi.Mode())
	}
}

func TestPanicInACommandEndsInOneSentenceAndALog(t *testing.T) {
	dir := t.TempDir()
	testPanicHook = func(cmd string) {
		if cmd == "whoami" {
			crashForTest("Núñez, José")
		}
	}
	defer func() { testPanicHook = nil }()
	var out, stderr bytes.Buffer
	code := Main(context.Background(), []string{"--data", dir, "whoami"}, IO{In: strings.NewReader(""), Out: &out, Err: &stderr}, app.NewVault)
	checkCrash(t, dir, code, stderr.String())
}

// The same in a real process: exit status 1, not Go's 2 and a trace.
func TestPanicInACommandProcessExitsOne(t *testing.T) {
	dir := t.TempDir()
	pass := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pass, []byte(adminPass+"\n"), 0o600)
	cmd := cliCommand("--data", dir, "--passphrase-file", pass, "--user", "Maria Admin", "whoami")
	cmd.Env = append(cmd.Env, "CLINICVAULT_TEST_PANIC=whoami")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	checkCrash(t, dir, code, stderr.String())
}
