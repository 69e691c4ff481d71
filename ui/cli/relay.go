package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/sync/relayserver"
)

// cmdSettingsRelay: settings relay URL|none [--fingerprint FP]
// [--relay-creds FILE] [--claim CODE].
func (r *runner) cmdSettingsRelay(args []string) error {
	fs := flag.NewFlagSet("settings relay", flag.ContinueOnError)
	fingerprint := fs.String("fingerprint", "", "the fingerprint relay serve printed (sha256:…)")
	creds := fs.String("relay-creds", "", "credentials for a NATS server run by someone else")
	claim := fs.String("claim", "", "the claim code a new relay serve printed: hands it this practice's computers (admins)")
	pos, err := parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	if pos[0] == "none" {
		if err := s.SetSyncRelay(r.ctx, app.RelayLink{}); err != nil {
			return err
		}
		fmt.Fprintln(r.io.Out, "relay: none")
		return nil
	}
	l := app.RelayLink{URL: pos[0], Fingerprint: *fingerprint, Creds: *creds}
	if *claim != "" {
		if err := s.ClaimRelay(r.ctx, l, *claim); err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "claimed: %s\n", l.URL)
	} else if err := s.SetSyncRelay(r.ctx, l); err != nil {
		return err
	}
	fmt.Fprintf(r.io.Out, "relay: %s\n", l.URL)
	if l.Fingerprint != "" {
		fmt.Fprintf(r.io.Out, "fingerprint: %s\n", l.Fingerprint)
	}
	return nil
}

// cmdRelay: relay serve [--listen ADDR] [--store DIR].
func (r *runner) cmdRelay(args []string) error {
	if len(args) == 0 || args[0] != "serve" {
		return usagef("usage: %s", commands["relay"].usage)
	}
	fs := flag.NewFlagSet("relay serve", flag.ContinueOnError)
	listen := fs.String("listen", relayserver.DefaultListen, "the address to listen on")
	storeDir := fs.String("store", "", "the relay's folder: its encrypted store, certificate and list of computers (default: beside the data folder)")
	if _, err := parse(fs, args[1:], 0, 0); err != nil {
		return err
	}
	if *storeDir == "" {
		*storeDir = strings.TrimRight(r.g.data, `/\`) + "-relay"
	}
	// Listening for Ctrl+C and SIGTERM before anything is printed: a
	// service manager that stops it at once gets a clean stop.
	ctx, stop := signal.NotifyContext(r.ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	rl, err := relayserver.Start(relayserver.Options{Listen: *listen, Store: *storeDir, Logf: func(format string, a ...any) {
		fmt.Fprintf(r.io.Err, "relay: "+format+"\n", a...)
	}})
	if err != nil {
		return err
	}
	defer rl.Shutdown()
	fmt.Fprintf(r.io.Out, "relay: %s\n", rl.URL())
	fmt.Fprintf(r.io.Out, "fingerprint: %s\n", rl.Fingerprint())
	if code := rl.ClaimCode(); code != "" {
		fmt.Fprintf(r.io.Out, "claim: %s\n", code)
		fmt.Fprintf(r.io.Err, "Not claimed yet. On an admin's computer of the practice:\n  clinicvault settings relay %s --fingerprint %s --claim %s\n", rl.URL(), rl.Fingerprint(), code)
	} else if a := rl.Access(); a != nil {
		fmt.Fprintf(r.io.Out, "computers: %d\n", len(a.Members))
	}
	fmt.Fprintln(r.io.Err, "The relay holds only encrypted batches. Ctrl+C stops it.")
	if f, ok := r.io.Out.(interface{ Sync() error }); ok {
		f.Sync()
	}
	done := make(chan struct{})
	go func() { rl.Wait(); close(done) }()
	select {
	case <-ctx.Done():
	case <-done:
		return errors.New("the relay stopped")
	}
	return nil
}
