// Command clinicvault is ClinicVault: with no command it opens the window
// (optionally on --data DIR), one window per data folder; with a command
// it runs the command line.
package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/app/instance"
	"github.com/clinicvault/clinicvault/ui"
	"github.com/clinicvault/clinicvault/ui/cli"
	"github.com/clinicvault/clinicvault/ui/quietlocale"
	"golang.org/x/term"
)

// fyneApp is FyneApp.toml, the app's metadata: its version is the
// program's (clinicvault version, the About box, the Windows installer).
//
//go:embed FyneApp.toml
var fyneApp string

// appDetails is FyneApp.toml's [Details] section, key to value (the
// file's few flat lines need no TOML reader).
func appDetails(toml string) map[string]string {
	details, section := map[string]string{}, ""
	for _, line := range strings.Split(toml, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			section = strings.Trim(line, "[]")
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && section == "Details" {
			details[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return details
}

// appVersion is FyneApp.toml's Version and Build.
func appVersion(toml string) (version, build string) {
	d := appDetails(toml)
	return d["Version"], d["Build"]
}

func main() {
	quietlocale.Restore() // the toolkit has read the locale by now
	cli.Version, cli.Build = appVersion(fyneApp)
	args := withoutProcessSerial(os.Args[1:])
	if dir, ok := guiDataDir(args); ok {
		if dir == "" {
			d, err := app.DefaultDataDir()
			if err != nil {
				fmt.Fprintln(os.Stderr, "clinicvault: no user config folder:", err)
				os.Exit(cli.ExitError)
			}
			dir = d
		}
		var stderr io.Writer = os.Stderr
		var said strings.Builder
		consoleGone := hideOwnConsole()
		if consoleGone {
			stderr = &said // nobody would see it: shown in a box instead
		}
		code := openWindow(stderr, dir, func(serve func(raise func())) { ui.Run(app.NewVault(dir), serve) })
		if consoleGone && code != cli.ExitOK && said.Len() > 0 {
			showMessage("ClinicVault", strings.TrimSpace(said.String()))
		}
		os.Exit(code)
	}
	stdin := int(os.Stdin.Fd())
	io := cli.IO{
		In: os.Stdin, Out: os.Stdout, Err: os.Stderr,
		Terminal: term.IsTerminal(stdin),
		ReadSecret: func(prompt string) (string, error) {
			fmt.Fprint(os.Stderr, prompt)
			b, err := term.ReadPassword(stdin)
			fmt.Fprintln(os.Stderr)
			return string(b), err
		},
	}
	os.Exit(cli.Main(context.Background(), args, io, app.NewVault))
}

// raiseWait is how long a second start waits for the window already open
// on its data folder to come forward.
const raiseWait = 2 * time.Second

// The sentences a second start ends with.
const (
	raisedSentence   = "ClinicVault is already open; its window was brought forward."
	noAnswerSentence = "ClinicVault is already open on this data folder but its window did not answer within 2 seconds; close it (or end ClinicVault in the Task Manager) and start ClinicVault again."
)

// openWindow runs the window (run, which starts serve once the window
// shows) on dataDir, unless a ClinicVault window is already open on that
// folder (package instance). Then the databases are not opened: that
// window is brought forward and openWindow returns 0, or, when it does
// not answer within raiseWait, says so in one sentence and returns 1.
func openWindow(stderr io.Writer, dataDir string, run func(serve func(raise func()))) int {
	ctx, cancel := context.WithTimeout(context.Background(), raiseWait)
	h, raised, err := instance.Open(ctx, dataDir)
	cancel()
	switch {
	case raised:
		fmt.Fprintln(stderr, raisedSentence)
		return cli.ExitOK
	case errors.Is(err, instance.ErrNoAnswer):
		fmt.Fprintln(stderr, noAnswerSentence)
		return cli.ExitError
	case err != nil:
		fmt.Fprintf(stderr, "clinicvault: the data folder %s could not be opened: %v\n", dataDir, err)
		return cli.ExitError
	}
	defer h.Close()
	return runWindow(stderr, dataDir, func() { run(h.Serve) })
}

// runWindow runs the window (run) and returns the exit status: 0 when it
// is closed, 1 after a panic on the window's goroutine (its event loop
// and callbacks), which ends in one sentence and a crash log in the data
// folder (cli.Recovered), never in a stack trace. A panic on a goroutine
// of its own still ends the process as Go does.
func runWindow(stderr io.Writer, dataDir string, run func()) (code int) {
	defer func() {
		if p := recover(); p != nil {
			code = cli.Recovered(stderr, dataDir, p, debug.Stack())
		}
	}()
	run()
	return cli.ExitOK
}

// guiDataDir reports whether args name no command (only --data DIR, or
// nothing), in which case the window opens.
func guiDataDir(args []string) (string, bool) {
	switch {
	case len(args) == 0:
		return "", true
	case len(args) == 1 && strings.HasPrefix(args[0], "--data="):
		return strings.TrimPrefix(args[0], "--data="), true
	case len(args) == 2 && (args[0] == "--data" || args[0] == "-data"):
		return args[1], true
	}
	return "", false
}

// withoutProcessSerial drops macOS's process serial number ("-psn_0_1234")
// from args: Finder passes it to an app on its first start after a
// download, when Gatekeeper has asked whether to open it, and it would
// be read as a command instead of opening the window.
func withoutProcessSerial(args []string) []string {
	var kept []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-psn_") {
			kept = append(kept, a)
		}
	}
	return kept
}
