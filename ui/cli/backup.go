package cli

import (
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/clinicvault/clinicvault/app"
)

func (r *runner) cmdBackup(args []string) error {
	if len(args) == 0 {
		return usagef("backup needs a subcommand: create, verify, restore, list")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "create":
		fs := flag.NewFlagSet("backup create", flag.ContinueOnError)
		out := fs.String("out", "", "folder to write the backup into")
		if _, err := parse(fs, args, 0, 0); err != nil {
			return err
		}
		if *out == "" {
			return usagef("backup create needs --out DIR")
		}
		s, err := r.session()
		if err != nil {
			return err
		}
		info, err := s.CreateBackup(r.ctx, *out, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "backup: %s\n", info.Path)
		if _, err := s.VerifyBackup(r.ctx, info.Path, nil); err != nil {
			return fmt.Errorf("the backup was written but did not verify: %w", err)
		}
		fmt.Fprintln(r.io.Out, "verified: ok")
		return nil
	case "verify":
		pos, s, err := r.signedInWith("backup verify", args, 1, 1)
		if err != nil {
			return err
		}
		report, err := s.VerifyBackup(r.ctx, pos[0], nil)
		if report != nil {
			for _, t := range report.Tables {
				live := "-"
				if t.Live >= 0 {
					live = fmt.Sprint(t.Live)
				}
				fmt.Fprintf(r.io.Out, "%s\t%s\tbackup %d\tmanifest %d\tlive %s\n", t.Database, t.Table, t.Backup, t.Manifest, live)
			}
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(r.io.Out, "backup intact: %s\n", pos[0])
		return nil
	case "restore":
		fs := flag.NewFlagSet("backup restore", flag.ContinueOnError)
		to := fs.String("to", "", "new, empty folder to restore into")
		keyFile := fs.String("recovery-key-file", "", "use the recovery key instead of signing in ('-' = standard input)")
		pos, err := parse(fs, args, 1, 1)
		if err != nil {
			return err
		}
		if *to == "" {
			return usagef("backup restore needs --to NEWDIR")
		}
		target := r.newVault(*to)
		if *keyFile != "" {
			key, err := r.readSecretFile(*keyFile)
			if err != nil {
				return err
			}
			err = target.RestoreBackupWithRecoveryKey(r.ctx, pos[0], key, nil)
			if err != nil {
				return err
			}
		} else {
			user, err := r.prompt(r.g.user, "--user", "Admin: ")
			if err != nil {
				return err
			}
			pass, err := r.signInPassphrase()
			if err != nil {
				return err
			}
			code, err := r.prompt(r.g.totp, "--totp", "Code from the authenticator app: ")
			if err != nil {
				return err
			}
			if err := target.RestoreBackup(r.ctx, pos[0], user, pass, code, nil); err != nil {
				return err
			}
		}
		fmt.Fprintf(r.io.Out, "restored into %s\n", *to)
		fmt.Fprintf(r.io.Out, "open it with: clinicvault --data %s\n", *to)
		return nil
	case "list":
		pos, err := parse(flag.NewFlagSet("backup list", flag.ContinueOnError), args, 1, 1)
		if err != nil {
			return err
		}
		var list []app.BackupInfo
		if r.g.user != "" {
			s, err := r.session()
			if err != nil {
				return err
			}
			list, err = s.ListBackups(r.ctx, pos[0])
			if err != nil {
				return err
			}
		} else if list, err = app.ListBackups(pos[0]); err != nil {
			return err
		}
		for _, b := range list {
			status := "not verified here"
			switch {
			case !b.Verified.IsZero() && b.VerifyOK:
				status = "verified " + b.Verified.Local().Format("2006-01-02 15:04")
			case b.VerifyErr != nil:
				status = "FAILED verification: " + b.VerifyErr.Detail
			}
			var extra []string
			if b.ClinicalSealed {
				extra = append(extra, "clinical data carried sealed")
			}
			fmt.Fprintf(r.io.Out, "%s\t%s\t%s\t%d bytes\tby %s\t%s%s\n", b.Path, b.Created.Local().Format(time.RFC3339), b.Practice, b.Size, b.MadeBy, status,
				strings.Join(append([]string{""}, extra...), "\t"))
		}
		return nil
	}
	return usagef("unknown backup subcommand %q", sub)
}
