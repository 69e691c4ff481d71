package cli

import (
	"flag"
	"fmt"

	"github.com/clinicvault/clinicvault/app"
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
