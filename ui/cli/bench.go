package cli

import (
	"flag"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/clinicvault/clinicvault/app"
	"github.com/pquerna/otp/totp"
)

// cmdBench measures sign-in on this machine with the Argon2id parameters a
// new vault would calibrate to: the key derivation, and everything else
// (opening the slot, the grants and both databases, checking the code,
// recording the sign-in, loading the first screen's data). The goal is
// that everything else stays under 10 % of the key derivation.
func (r *runner) cmdBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("iterations", 5, "sign-ins to measure")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *n < 1 {
		return usagef("--iterations must be at least 1")
	}
	dir, err := os.MkdirTemp("", "clinicvault-bench-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	var mu sync.Mutex
	now := time.Now()
	v := app.NewVault(dir)
	v.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	const pass = "violet tugboat harmonica spreadsheet"
	enr, err := app.NewEnrollment("Bench Practice", "Bench Admin")
	if err != nil {
		return err
	}
	fmt.Fprintln(r.io.Out, "calibrating Argon2id and creating a throw-away vault...")
	if _, err := v.Create(r.ctx, "Bench Practice", "Bench Admin", pass, enr); err != nil {
		return err
	}
	var kdf, rest, first time.Duration
	for i := 0; i < *n; i++ {
		mu.Lock()
		now = now.Add(30 * time.Second) // a fresh TOTP step for each sign-in
		t := now
		mu.Unlock()
		code, err := totp.GenerateCode(enr.Secret(), t)
		if err != nil {
			return err
		}
		s, err := v.SignIn(r.ctx, "Bench Admin", pass, code)
		if err != nil {
			return err
		}
		start := time.Now()
		if _, err := s.ListUsers(r.ctx); err != nil {
			return err
		}
		first += time.Since(start)
		kdf += s.Timing().KDF
		rest += s.Timing().Rest
		s.Lock(r.ctx)
	}
	avg := func(d time.Duration) time.Duration { return (d / time.Duration(*n)).Round(time.Microsecond) }
	other := avg(rest + first)
	ratio := float64(other) / float64(avg(kdf)) * 100
	fmt.Fprintf(r.io.Out, "sign-in kdf: %v\n", avg(kdf))
	fmt.Fprintf(r.io.Out, "sign-in rest: %v (open slot and databases, check code: %v; first screen: %v)\n", other, avg(rest), avg(first))
	verdict := "met"
	if ratio > 10 {
		verdict = "NOT met"
	}
	fmt.Fprintf(r.io.Out, "rest/kdf: %.1f%% (goal <= 10%%: %s)\n", ratio, verdict)
	return nil
}
