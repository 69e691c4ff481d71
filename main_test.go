package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clinicvault/clinicvault/app"
)

// A panic in the window's loop ends in one sentence, exit status 1 and a
// crash log in the data folder that names the panic's type and where it
// happened, and holds no patient data.
func TestWindowPanicEndsInOneSentenceAndALog(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	code := runWindow(&stderr, dir, func() { windowCallback("Núñez, José") })
	if code != 1 {
		t.Fatalf("exit status %d, want 1", code)
	}
	if out := stderr.String(); strings.Count(out, "\n") != 1 || strings.Contains(out, "goroutine") {
		t.Fatalf("stderr %q, want one sentence", out)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, app.CrashLogDir, "crash-*.log"))
	if len(logs) != 1 {
		t.Fatalf("logs %v", logs)
	}
	b, _ := os.ReadFile(logs[0])
	if !strings.Contains(string(b), "windowCallback") || !strings.Contains(string(b), "type: string") || strings.Contains(string(b), "Núñez") {
		t.Fatalf("log:\n%s", b)
	}
}

//go:noinline
func windowCallback(name string) { panic("saving " + name) }
