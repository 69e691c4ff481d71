package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

func (r *runner) printSync(rep app.SyncReport) {
	fmt.Fprintf(r.io.Out, "sent: %d\napplied: %d\nrefused: %d\n", rep.Sent, rep.Applied, rep.Refused)
	if rep.Sealed > 0 {
		fmt.Fprintf(r.io.Out, "sealed: %d (clinical; applied at the next clinician sign-in)\n", rep.Sealed)
	}
	if rep.Halted > 0 {
		fmt.Fprintf(r.io.Out, "halted: %d (another computer's log stops at a refused batch: see device list)\n", rep.Halted)
	}
	if rep.Resent > 0 {
		fmt.Fprintf(r.io.Out, "resent: %d (this computer's batches the relay or folder had lost)\n", rep.Resent)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(r.io.Out, "problem: %s\n", p)
	}
}

// relayFlags are the flags that say how to reach a relay.
type relayFlags struct {
	url, creds, fingerprint *string
}

func addRelayFlags(fs *flag.FlagSet) relayFlags {
	return relayFlags{
		url:         fs.String("relay", "", "the relay's address (nats://HOST:PORT)"),
		creds:       fs.String("relay-creds", "", "credentials for a NATS server run by someone else (creds file, user:password or token)"),
		fingerprint: fs.String("fingerprint", "", "the fingerprint relay serve printed (sha256:…), to pin its certificate"),
	}
}

// link is the relay the flags name: the remembered one's fingerprint and
// credentials when the address is the same and none are given.
func (f relayFlags) link(remembered app.RelayLink) app.RelayLink {
	l := app.RelayLink{URL: *f.url, Fingerprint: *f.fingerprint, Creds: *f.creds}
	if l.URL == remembered.URL && l.Fingerprint == "" && l.Creds == "" {
		return remembered
	}
	return l
}

func (r *runner) cmdSync(args []string) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	folder := fs.String("folder", "", "the shared sync folder")
	rf := addRelayFlags(fs)
	watch := fs.Bool("watch", false, "keep running and sync whenever the folder or relay changes")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	s, err := r.session()
	if err != nil {
		return err
	}
	var places []app.Place
	switch {
	case *folder != "" || *rf.url != "":
		if *folder != "" {
			places = append(places, app.FolderPlace(*folder))
		}
		if *rf.url != "" {
			places = append(places, app.RelayPlace(rf.link(s.SyncRelay(r.ctx))))
		}
	default:
		if dir := s.SyncFolder(r.ctx); dir != "" {
			places = append(places, app.FolderPlace(dir))
		}
		if l := s.SyncRelay(r.ctx); !l.IsZero() {
			places = append(places, app.RelayPlace(l))
		}
	}
	if len(places) == 0 {
		return usagef("sync needs --folder DIR or --relay URL")
	}
	s.OnSendProgress(func(place string, done, total int) {
		if done == 1 || done == total || done%10 == 0 {
			fmt.Fprintf(r.io.Err, "sending to %s: %d of %d batches\n", place, done, total)
		}
	})
	defer s.OnSendProgress(nil)
	var total app.SyncReport
	for _, p := range places {
		rep, err := s.SyncAt(r.ctx, p)
		if err != nil {
			return err
		}
		if p.IsRelay() {
			s.SetSyncRelay(r.ctx, p.Relay)
		} else {
			s.SetSyncFolder(r.ctx, p.Folder)
		}
		if len(places) > 1 {
			fmt.Fprintf(r.io.Out, "through: %s\n", p)
		}
		r.printSync(rep)
		total.Refused += rep.Refused
		total.Halted = max(total.Halted, rep.Halted)
	}
	if !*watch {
		if total.Refused > 0 {
			return fmt.Errorf("%d batch(es) refused", total.Refused)
		}
		if total.Halted > 0 {
			return fmt.Errorf("%d computer(s)' log halted at a refused batch", total.Halted)
		}
		return nil
	}
	ctx, stop := signal.NotifyContext(r.ctx, os.Interrupt)
	defer stop()
	watching := "the folder"
	if len(places) > 1 {
		watching = "the folder and the relay"
	} else if places[0].IsRelay() {
		watching = "the relay"
	}
	fmt.Fprintf(r.io.Err, "watching %s; Ctrl+C stops\n", watching)
	o := app.ReplicateOptions{OnPass: func(p app.SyncPass) {
		rep := p.Report
		switch {
		case p.Err != nil:
			fmt.Fprintf(r.io.Out, "problem: %v\n", p.Err)
		case rep.Sent+rep.Applied+rep.Refused+rep.Sealed+rep.Resent > 0 || len(rep.Problems) > 0:
			fmt.Fprintf(r.io.Out, "%s\n", p.At.Local().Format("15:04:05"))
			r.printSync(rep)
		}
	}}
	if *folder != "" || *rf.url != "" {
		for _, p := range places {
			if p.IsRelay() {
				o.Relay = p.Relay
			} else {
				o.Folder = p.Folder
			}
		}
	}
	err = s.Replicate(ctx, o)
	if errors.Is(err, app.ErrLocked) {
		return errors.New("the session locked: watching stopped")
	}
	return nil
}

func (r *runner) cmdDevice(args []string) error {
	if len(args) == 0 {
		return usagef("usage: %s", commands["device"].usage)
	}
	switch args[0] {
	case "list":
		s, err := r.signedIn("device list", args[1:], 0, 0)
		if err != nil {
			return err
		}
		devs, err := s.Devices(r.ctx)
		if err != nil {
			return err
		}
		for _, d := range devs {
			state := "active"
			if !d.Revoked.IsZero() {
				state = "REVOKED " + d.Revoked.Local().Format("2006-01-02")
			} else if d.Halted {
				state = fmt.Sprintf("HALTED at batch %d", d.HaltedAt)
			}
			seen := "-"
			if !d.LastSeen.IsZero() {
				seen = d.LastSeen.Local().Format("2006-01-02 15:04")
			}
			if d.This {
				seen = "this computer"
			}
			fmt.Fprintf(r.io.Out, "%s\t%s\t%s\tlast seen %s\t%s\n", d.ID, d.Name, state, seen, d.Problem.Detail)
		}
		return nil
	case "revoke":
		fs := flag.NewFlagSet("device revoke", flag.ContinueOnError)
		folder := fs.String("folder", "", "the shared sync folder (default: the last one used)")
		rf := addRelayFlags(fs)
		pos, err := parse(fs, args[1:], 1, 1)
		if err != nil {
			return err
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		var at app.Place
		switch {
		case *folder != "":
			at = app.FolderPlace(*folder)
		case *rf.url != "":
			at = app.RelayPlace(rf.link(s.SyncRelay(r.ctx)))
		case s.SyncFolder(r.ctx) != "":
			at = app.FolderPlace(s.SyncFolder(r.ctx))
		case !s.SyncRelay(r.ctx).IsZero():
			at = app.RelayPlace(s.SyncRelay(r.ctx))
		default:
			return usagef("no sync folder or relay is known yet: give --folder DIR or --relay URL")
		}
		done := r.watchRekeys(s)
		if err := s.RevokeDeviceAt(r.ctx, at, pos[0]); err != nil {
			s.OnRekey(nil)
			return err
		}
		rep, err := s.SyncAt(r.ctx, at)
		if err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "revoked: %s\n", pos[0])
		fmt.Fprintln(r.io.Out, "What was already on that computer cannot be recalled; from now on it can neither read nor send the practice's changes.")
		done()
		r.printSync(rep)
		// The other place this computer syncs through hears of it now
		// too (a relay then turns the revoked computer away).
		for _, other := range []app.Place{app.FolderPlace(s.SyncFolder(r.ctx)), app.RelayPlace(s.SyncRelay(r.ctx))} {
			if other.String() != "" && other != at {
				if _, err := s.SyncAt(r.ctx, other); err != nil {
					fmt.Fprintf(r.io.Out, "problem: %s: %v\n", other, err)
				}
			}
		}
		return nil
	case "rename":
		pos, s, err := r.signedInWith("device rename", args[1:], 2, 2)
		if err != nil {
			return err
		}
		return s.RenameDevice(r.ctx, pos[0], pos[1])
	case "invite":
		fs := flag.NewFlagSet("device invite", flag.ContinueOnError)
		folder := fs.String("folder", "", "the shared sync folder")
		rf := addRelayFlags(fs)
		yes := fs.Bool("yes", false, "approve without asking (for scripts)")
		if _, err := parse(fs, args[1:], 0, 0); err != nil {
			return err
		}
		if (*folder == "") == (*rf.url == "") {
			return usagef("device invite needs --folder DIR or --relay URL")
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		at := app.FolderPlace(*folder)
		if *rf.url != "" {
			at = app.RelayPlace(rf.link(s.SyncRelay(r.ctx)))
		}
		if _, err := s.SyncAt(r.ctx, at); err != nil {
			return err
		}
		var inv *app.Invitation
		if at.IsRelay() {
			inv, err = s.InviteThroughRelay(r.ctx, at.Relay)
		} else {
			inv, err = s.InviteDevice(r.ctx, *folder)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "code: %s\n", inv.Code)
		how := "--folder " + *folder
		if at.IsRelay() {
			how = "--relay " + at.Relay.URL
			if at.Relay.Fingerprint != "" {
				how += " --fingerprint " + at.Relay.Fingerprint
			}
		}
		fmt.Fprintf(r.io.Err, "On the new computer: clinicvault --data NEWDIR join %s --code %s  (valid until %s)\n", how, inv.Code, inv.Expires.Local().Format("15:04"))
		req, fp, err := inv.WaitForDevice(r.ctx, r.now, 500*time.Millisecond)
		if err != nil {
			return pairingInWords(err)
		}
		fmt.Fprintf(r.io.Out, "fingerprint: %s\n", fp)
		if !*yes {
			fmt.Fprintf(r.io.Err, "Does the new computer (%q) show the same fingerprint? Type yes to approve: ", req.Name)
			line, err := r.readLine()
			if err != nil || strings.ToLower(strings.TrimSpace(line)) != "yes" {
				inv.Cancel()
				return fmt.Errorf("not approved: the new computer gets nothing")
			}
		}
		if err := s.ApproveDevice(r.ctx, inv, req); err != nil {
			return pairingInWords(err)
		}
		// The roster change goes out, and a relay admits the new computer.
		if _, err := s.SyncAt(r.ctx, at); err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "approved: %s\n", req.DeviceID)
		return nil
	}
	return usagef("unknown device subcommand %q", args[0])
}

func (r *runner) cmdJoin(args []string) error {
	fs := flag.NewFlagSet("join", flag.ContinueOnError)
	folder := fs.String("folder", "", "the shared sync folder")
	rf := addRelayFlags(fs)
	code := fs.String("code", "", "the code the admin's computer shows")
	name := fs.String("name", "", "a name for this computer (default: its host name)")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if (*folder == "") == (*rf.url == "") || *code == "" {
		return usagef("join needs --folder DIR or --relay URL, and --code CODE")
	}
	if *name == "" {
		*name, _ = os.Hostname()
	}
	onFingerprint := func(fp string) {
		fmt.Fprintf(r.io.Out, "fingerprint: %s\n", fp)
		fmt.Fprintln(r.io.Err, "Check that the admin's screen shows the same fingerprint; waiting for approval...")
	}
	var err error
	if *rf.url != "" {
		err = r.vault.JoinThroughRelay(r.ctx, rf.link(app.RelayLink{}), *code, *name, onFingerprint, 500*time.Millisecond)
	} else {
		err = r.vault.Join(r.ctx, *folder, *code, *name, onFingerprint, 500*time.Millisecond)
	}
	if err != nil {
		return pairingInWords(err)
	}
	fmt.Fprintf(r.io.Out, "joined: %s\n", r.g.data)
	fmt.Fprintln(r.io.Out, "Every member of staff can now sign in here with their own passphrase and code.")
	return nil
}

// pairingInWords says what a refused pairing means, for the admin or the
// person at the new computer; the error stays wrapped for its exit status.
func pairingInWords(err error) error {
	switch {
	case errors.Is(err, cvsync.ErrPairingContested):
		return fmt.Errorf("more than one computer answered the code, so it was cancelled and no computer was added; someone else may have seen the code: make a new one and give it only to the person at the new computer (%w)", err)
	case errors.Is(err, cvsync.ErrPairingBroken):
		return fmt.Errorf("the answer to the code changed after it was given, so the code was cancelled and no computer was added: make a new one (%w)", err)
	case errors.Is(err, app.ErrDeviceIDTaken):
		return fmt.Errorf("the answer to the code claimed to be a computer the practice already has, so it was refused and nothing changed: make a new code (%w)", err)
	case errors.Is(err, cvsync.ErrPairingClosed):
		return fmt.Errorf("the admin's computer withdrew the code (cancelled, or it expired): ask for a new one (%w)", err)
	}
	return err
}
