package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/app/instance"
)

// TestMain lets the test binary stand for a ClinicVault window started on
// a data folder (CLINICVAULT_FAKE_WINDOW=DIR), so tests can start real,
// separate processes. The fake window prints "open" when it runs (where
// the real one would open the databases) and "raised" each time a second
// start brings it forward, and ends when its standard input closes. With
// CLINICVAULT_FAKE_HANG=1 it never answers a second start.
func TestMain(m *testing.M) {
	if dir := os.Getenv("CLINICVAULT_FAKE_WINDOW"); dir != "" {
		os.Exit(openWindow(os.Stderr, dir, func(serve func(raise func())) {
			os.Stdout.WriteString("open\n")
			if os.Getenv("CLINICVAULT_FAKE_HANG") != "1" {
				serve(func() { os.Stdout.WriteString("raised\n") })
			}
			io.Copy(io.Discard, os.Stdin)
		}))
	}
	os.Exit(m.Run())
}

// fakeWindow is a started fake window process.
type fakeWindow struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

// startWindow starts a fake window on dir and waits for it to say "open".
func startWindow(t *testing.T, dir string, hang bool) *fakeWindow {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CLINICVAULT_FAKE_WINDOW="+dir)
	if hang {
		cmd.Env = append(cmd.Env, "CLINICVAULT_FAKE_HANG=1")
	}
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &fakeWindow{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	t.Cleanup(func() {
		stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
	}()
	w.expect(t, "open")
	return w
}

// expect waits for the fake window to print line.
func (w *fakeWindow) expect(t *testing.T, line string) {
	t.Helper()
	select {
	case got, ok := <-w.lines:
		if !ok || got != line {
			t.Fatalf("the window said %q (open: %v), want %q", got, ok, line)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the window did not say %q", line)
	}
}

// secondStart starts another fake window on dir and returns its exit
// status, standard output and standard error, and how long it ran.
func secondStart(t *testing.T, dir string) (code int, stdout, stderr string, took time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CLINICVAULT_FAKE_WINDOW="+dir)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	took = time.Since(start)
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errOut.String(), took
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String(), took
}

// A second start on the same data folder, as a separate process, brings
// the first window forward and ends with status 0 and one line, without
// opening anything; on another folder it opens its own window.
func TestSecondStartBringsTheFirstWindowForward(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ClinicVault")
	first := startWindow(t, dir, false)
	code, stdout, stderr, _ := secondStart(t, dir)
	if code != 0 || stderr != raisedSentence+"\n" || stdout != "" {
		t.Fatalf("second start: status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	first.expect(t, "raised")
	other := startWindow(t, filepath.Join(t.TempDir(), "Other"), false)
	other.stdin.Close()
	if err := other.cmd.Wait(); err != nil {
		t.Fatalf("the window on another folder: %v", err)
	}
}

// A first window that does not answer leaves a second start with status
// 1 and one sentence after about 2 seconds, never opening the folder.
func TestSecondStartGivesUpOnAWindowThatDoesNotAnswer(t *testing.T) {
	dir := t.TempDir()
	startWindow(t, dir, true)
	code, stdout, stderr, took := secondStart(t, dir)
	if code != 1 || stderr != noAnswerSentence+"\n" || stdout != "" {
		t.Fatalf("second start: status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if took < raiseWait || took > raiseWait+10*time.Second {
		t.Errorf("gave up after %v, want about %v", took, raiseWait)
	}
}

// A window that was killed leaves its files behind, and the next start
// opens all the same: the system let the lock go with the process.
func TestKilledWindowDoesNotBlockTheNextStart(t *testing.T) {
	dir := t.TempDir()
	first := startWindow(t, dir, false)
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.cmd.Wait()
	if _, err := os.Stat(filepath.Join(dir, instance.AddressFile)); err != nil {
		t.Fatalf("the killed window's address file is gone (%v): the test shows nothing", err)
	}
	next := startWindow(t, dir, false)
	code, _, stderr, _ := secondStart(t, dir)
	if code != 0 || !strings.Contains(stderr, "brought forward") {
		t.Fatalf("a start after the restart: status %d, stderr %q", code, stderr)
	}
	next.expect(t, "raised")
}
