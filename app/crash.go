package app

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// CrashLogDir is the folder, in the data folder, that crash logs go to.
const CrashLogDir = "crash-logs"

// WriteCrashLog records a panic for support, so that no stack trace is
// ever shown to a user: the type of the panic's value (never the value
// itself, which may quote a patient's name or a passphrase) and the
// goroutine's stack with every function's argument values removed (they
// may be a record's fields). It goes into dataDir/crash-logs when dataDir
// is a folder that exists, else into the user's cache folder
// (ClinicVault/crash-logs), else the system's temp folder. It returns the
// file's path.
func WriteCrashLog(dataDir string, value any, stack []byte, now time.Time) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "ClinicVault stopped on an internal error.\n")
	fmt.Fprintf(&b, "time: %s\n", now.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "build: %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "panic value of type: %T\n", value)
	if _, ok := value.(runtime.Error); ok {
		b.WriteString("(a runtime error: a bug in ClinicVault)\n")
	}
	b.WriteString("stack (argument values removed):\n")
	b.WriteString(SanitizeStack(string(stack)))
	if !strings.HasSuffix(b.String(), "\n") {
		b.WriteString("\n")
	}
	name := fmt.Sprintf("crash-%s-%d.log", now.UTC().Format("20060102-150405"), os.Getpid())

	var lastErr error
	for _, dir := range crashLogDirs(dataDir) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			lastErr = err
			continue
		}
		p := filepath.Join(dir, name)
		f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			lastErr = err
			continue
		}
		_, err = f.WriteString(b.String())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(p)
			lastErr = err
			continue
		}
		return p, nil
	}
	return "", lastErr
}

func crashLogDirs(dataDir string) []string {
	var dirs []string
	if dataDir != "" {
		if fi, err := os.Stat(dataDir); err == nil && fi.IsDir() {
			dirs = append(dirs, filepath.Join(dataDir, CrashLogDir))
		}
	}
	if c, err := os.UserCacheDir(); err == nil {
		dirs = append(dirs, filepath.Join(c, "ClinicVault", CrashLogDir))
	}
	return append(dirs, filepath.Join(os.TempDir(), "clinicvault-"+CrashLogDir))
}

// SanitizeStack removes the argument values from a Go stack trace
// (runtime/debug.Stack's format): "pkg.f(0xc000010000, {0x5d2a, 0x3})"
// becomes "pkg.f(...)". File names, line numbers and function names stay.
func SanitizeStack(stack string) string {
	lines := strings.Split(stack, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "\t") || !strings.HasSuffix(l, ")") {
			continue
		}
		// The argument list is the parenthesis that closes the line and
		// the one that opens it (a method's "(*T)" comes before).
		depth := 0
		for j := len(l) - 1; j >= 0; j-- {
			switch l[j] {
			case ')':
				depth++
			case '(':
				depth--
			}
			if depth == 0 {
				lines[i] = l[:j] + "(...)"
				break
			}
		}
	}
	return strings.Join(lines, "\n")
}
