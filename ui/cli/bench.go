package cli

import (
	"flag"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/clinicvault/clinicvault/app"
	"github.com/pquerna/otp/totp"
)

// cmdBench measures sign-in on this machine with the Argon2id parameters a
// new vault would calibrate to: the key derivation, and everything else
// (opening the slot, the grants and both databases, checking the code,
// recording the sign-in, loading the first screen's data). The goal is
// that everything else stays under 10 % of the key derivation. It prints
// one figure per line as "name value unit".
func (r *runner) cmdBench(args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	n := fs.Int("iterations", 5, "sign-ins to measure")
	patients := fs.Int("patients", 100_000, "patients for the records benchmark (0 skips it)")
	importRows := fs.Int("import-rows", 100_000, "rows of the CSV and XLSX import benchmark (0 skips it)")
	runs := fs.Int("runs", 1, "runs of the records and import benchmarks; each figure printed is the median")
	if _, err := parse(fs, args, 0, 0); err != nil {
		return err
	}
	if *n < 1 {
		return usagef("--iterations must be at least 1")
	}
	if *runs < 1 {
		return usagef("--runs must be at least 1")
	}
	// (A bench killed midway left its scratch vaults in the temp folder;
	// those an hour old go now.)
	dir, release, err := app.BenchScratch("")
	if err != nil {
		return err
	}
	defer release()
	var mu sync.Mutex
	now := time.Now()
	v := app.NewVault(dir)
	v.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	const pass = "violet tugboat harmonica spreadsheet"
	enr, err := app.NewEnrollment("Bench Practice", "Bench Admin")
	if err != nil {
		return err
	}
	fmt.Fprintln(r.io.Err, "calibrating Argon2id and creating a throw-away vault...")
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
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(*n) }
	other := ms(rest + first)
	fmt.Fprintf(r.io.Out, "signin_kdf %.1f ms\n", ms(kdf))
	fmt.Fprintf(r.io.Out, "signin_unlock_and_open %.1f ms\n", ms(rest))
	fmt.Fprintf(r.io.Out, "signin_first_screen %.1f ms\n", ms(first))
	fmt.Fprintf(r.io.Out, "signin_rest %.1f ms\n", other)
	fmt.Fprintf(r.io.Out, "signin_rest_of_kdf %.1f %%\n", other/ms(kdf)*100)
	// A refusal takes as long whichever factor was wrong: the code is
	// checked before any database opens, so the time does not tell a
	// guesser that the passphrase was right.
	wrongPass, wrongCode, err := app.SignInRefusalBenchmark(r.ctx, v, "Bench Admin", pass, *n, func() (string, error) {
		mu.Lock()
		now = now.Add(30 * time.Second)
		t := now
		mu.Unlock()
		return totp.GenerateCode(enr.Secret(), t)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(r.io.Out, "signin_refused_wrong_passphrase %.1f ms\n", ms(wrongPass))
	fmt.Fprintf(r.io.Out, "signin_refused_wrong_code %.1f ms\n", ms(wrongCode))
	fmt.Fprintf(r.io.Out, "signin_refused_code_vs_passphrase %.3f x\n", ms(wrongCode)/ms(wrongPass))
	// One run prints each figure as soon as it is known; several print
	// the median of each at the end (this machine's figures vary by ±15 %
	// from run to run).
	var order []string
	byName := map[string][]app.Figure{}
	out := func(f app.Figure) {
		if *runs == 1 {
			fmt.Fprintln(r.io.Out, f)
			return
		}
		if _, ok := byName[f.Name]; !ok {
			order = append(order, f.Name)
		}
		byName[f.Name] = append(byName[f.Name], f)
	}
	// Which crypto the encrypted figures were measured with (#17).
	fmt.Fprintf(r.io.Err, "page crypto: %s\n", app.CryptoProvider())
	for run := 1; run <= *runs; run++ {
		if *runs > 1 {
			fmt.Fprintf(r.io.Err, "run %d of %d\n", run, *runs)
		}
		if *patients > 0 {
			fmt.Fprintf(r.io.Err, "records benchmark with %d synthetic patients, encrypted then plain...\n", *patients)
			if err := benchIn("records", func(scratch string) error { return app.RecordsBenchmark(r.ctx, scratch, *patients, time.Now(), out) }); err != nil {
				return err
			}
		}
		if *importRows > 0 {
			fmt.Fprintf(r.io.Err, "import benchmark with a %d-row synthetic sheet, CSV then XLSX...\n", *importRows)
			if err := benchIn("import", func(scratch string) error { return app.ImportBenchmark(r.ctx, scratch, *importRows, time.Now(), out) }); err != nil {
				return err
			}
		}
	}
	for _, name := range order {
		fmt.Fprintln(r.io.Out, medianFigure(byName[name]))
	}
	return nil
}

// benchIn runs a benchmark in a scratch folder of its own, removed after.
func benchIn(kind string, run func(scratch string) error) error {
	scratch, release, err := app.BenchScratch(kind)
	if err != nil {
		return err
	}
	defer release()
	return run(scratch)
}

// medianFigure is the median of one figure's runs (the upper middle of an
// even number).
func medianFigure(fs []app.Figure) app.Figure {
	vs := make([]float64, len(fs))
	for i, f := range fs {
		vs[i] = f.Value
	}
	sort.Float64s(vs)
	return app.Figure{Name: fs[0].Name, Value: vs[len(vs)/2], Unit: fs[0].Unit}
}
