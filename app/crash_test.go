package app

import (
	"os"
	"strings"
	"testing"
)

func TestSanitizeStackDropsArgumentValues(t *testing.T) {
	in := "goroutine 1 [running]:\n" +
		"github.com/x/app.(*Session).SavePatient(0xc000123456, {0x1234, 0x5})\n" +
		"\t/src/app/patients.go:12 +0x1d\n" +
		"panic({0xabc, 0xc0000})\n" +
		"main.main()\n" +
		"created by github.com/x/sync.Run in goroutine 1\n"
	want := "goroutine 1 [running]:\n" +
		"github.com/x/app.(*Session).SavePatient(...)\n" +
		"\t/src/app/patients.go:12 +0x1d\n" +
		"panic(...)\n" +
		"main.main(...)\n" +
		"created by github.com/x/sync.Run in goroutine 1\n"
	if got := SanitizeStack(in); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// With no data folder (a panic before one was chosen, or a folder that
// does not exist), the log goes to the user's cache folder.
func TestCrashLogWithoutADataFolder(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", cache)
	t.Setenv("LocalAppData", cache)
	p, err := WriteCrashLog("", "Núñez", []byte("goroutine 1 [running]:\nmain.main()\n"), testEpoch)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p, cache) {
		t.Fatalf("log at %s, want under %s", p, cache)
	}
	b, _ := os.ReadFile(p)
	if strings.Contains(string(b), "Núñez") || !strings.Contains(string(b), "type: string") {
		t.Fatalf("log:\n%s", b)
	}
}
