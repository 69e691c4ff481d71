// Command clinicvault is ClinicVault: with no command it opens the window
// (optionally on --data DIR); with a command it runs the command line.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui"
	"github.com/clinicvault/clinicvault/ui/cli"
	"golang.org/x/term"
)

func main() {
	args := os.Args[1:]
	if dir, ok := guiDataDir(args); ok {
		if dir == "" {
			d, err := app.DefaultDataDir()
			if err != nil {
				fmt.Fprintln(os.Stderr, "clinicvault: no user config folder:", err)
				os.Exit(cli.ExitError)
			}
			dir = d
		}
		ui.Run(app.NewVault(dir))
		return
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
