package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/quietlocale"
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

// Under the C locale in any of its spellings (Debian's default C.UTF-8
// on a fresh server or in a container, a bare C, POSIX, or nothing set at
// all) a command prints its own output and nothing from the window
// toolkit, which reads the locale when the program starts.
func TestNoToolkitNoiseUnderCLocale(t *testing.T) {
	if os.Getenv("CLINICVAULT_AS_MAIN") == "1" {
		t.Skip("child")
	}
	envs := [][]string{
		{"LANG=C.UTF-8"}, {"LANG=C"}, {"LANG=POSIX"}, {},
		{"LC_ALL=C.UTF-8", "LANG=en_US.UTF-8"}, {"LANG=C.utf8", "LANGUAGE=C:en"},
	}
	for _, env := range envs {
		// A command that succeeds and one that fails: both print only
		// their own lines.
		for _, args := range [][]string{{"help"}, {"--data", t.TempDir(), "status"}} {
			cmd := exec.Command(os.Args[0], append([]string{"-test.run=^TestMainChild$", "--"}, args...)...)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "CLINICVAULT_AS_MAIN=1"}, env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, _ := cmd.Output()
			if bytes.Contains(stderr.Bytes(), []byte("Fyne")) || bytes.Contains(stderr.Bytes(), []byte("locale")) {
				t.Errorf("env %v, %v: stderr:\n%s", env, args, stderr.Bytes())
			}
			if len(out)+stderr.Len() == 0 {
				t.Errorf("env %v, %v: printed nothing at all", env, args)
			}
		}
	}
	// The original value is back for the processes the program starts.
	cmd := exec.Command(os.Args[0], "-test.run=^TestMainChild$", "--", "env")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "CLINICVAULT_AS_MAIN=1", "LANG=C.UTF-8", "LANGUAGE=C:en"}
	out, err := cmd.Output()
	if err != nil || !strings.Contains(string(out), "LANG=C.UTF-8\n") || !strings.Contains(string(out), "LANGUAGE=C:en\n") {
		t.Fatalf("child environment: %v\n%s", err, out)
	}
}

// TestMainChild is the program itself, for TestNoToolkitNoiseUnderCLocale:
// the arguments after "--" are its command line ("env" prints the
// environment the program would hand to a process it starts).
func TestMainChild(t *testing.T) {
	if os.Getenv("CLINICVAULT_AS_MAIN") != "1" {
		t.Skip("run by TestNoToolkitNoiseUnderCLocale")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	if len(args) == 1 && args[0] == "env" {
		quietlocale.Restore()
		for _, kv := range os.Environ() {
			fmt.Println(kv)
		}
		os.Exit(0)
	}
	os.Args = append([]string{"clinicvault"}, args...)
	main()
}

// The version printed is FyneApp.toml's, the file fyne package and the
// Windows build read.
func TestVersionComesFromFyneAppToml(t *testing.T) {
	b, err := os.ReadFile("FyneApp.toml")
	if err != nil {
		t.Fatal(err)
	}
	v, build := appVersion(string(b))
	if v == "" || build == "" || !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		t.Fatalf("FyneApp.toml: version %q build %q", v, build)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMainChild$", "--", "version")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "CLINICVAULT_AS_MAIN=1"}
	out, err := cmd.Output()
	want := "ClinicVault " + v + " (build " + build + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if err != nil || string(out) != want {
		t.Fatalf("version: %v %q, want %q", err, out, want)
	}
}

// Started from Finder the first time, a Mac app gets "-psn_0_…" as its
// only argument; the window opens as with no argument.
func TestFinderProcessSerialOpensTheWindow(t *testing.T) {
	for _, c := range []struct {
		args   []string
		dir    string
		window bool
	}{
		{[]string{"-psn_0_8046508"}, "", true},
		{[]string{"-psn_0_8046508", "--data", "/srv/vault"}, "/srv/vault", true},
		{[]string{"patient", "list"}, "", false},
	} {
		dir, ok := guiDataDir(withoutProcessSerial(c.args))
		if dir != c.dir || ok != c.window {
			t.Errorf("%q: guiDataDir = %q, %v; want %q, %v", c.args, dir, ok, c.dir, c.window)
		}
	}
}
