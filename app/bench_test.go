package app

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkSignIn splits a sign-in into the Argon2id derivation and
// everything else (slot, grants, both databases, the TOTP check, the audit
// row, the first screen's data). Goal: everything else <= 10 % of the KDF.
// It uses the parameters a new vault calibrates to on this machine.
func BenchmarkSignIn(b *testing.B) {
	clk := &clock{t: testEpoch}
	v := NewVault(b.TempDir())
	v.Now = clk.Now
	enr, _ := NewEnrollment(practice, "Maria Admin")
	ctx := context.Background()
	if _, err := v.Create(ctx, practice, "Maria Admin", adminPass, enr); err != nil {
		b.Fatal(err)
	}
	raw, _ := b32.DecodeString(enr.Secret())
	var kdf, rest time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clk.Advance(totpPeriod * time.Second)
		code := totpCode(raw, clk.Now().Unix()/totpPeriod, totpDigits)
		s, err := v.SignIn(ctx, "Maria Admin", adminPass, code)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := s.ListUsers(ctx); err != nil {
			b.Fatal(err)
		}
		kdf += s.Timing().KDF
		rest += s.Timing().Rest + time.Since(start)
		b.StopTimer()
		s.Lock(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(kdf.Milliseconds())/float64(b.N), "kdf-ms/op")
	b.ReportMetric(float64(rest.Microseconds())/1000/float64(b.N), "rest-ms/op")
	b.ReportMetric(float64(rest)/float64(kdf)*100, "rest-%-of-kdf")
}

// BenchmarkBackup backs up a vault of 100,000 synthetic patients and
// reports time, the backup's size and the raw database files' size.
func BenchmarkBackup(b *testing.B) {
	ctx := context.Background()
	clk := &clock{t: testEpoch}
	v := NewVault(b.TempDir())
	v.Now = clk.Now
	v.UseMinimumKDF()
	enr, _ := NewEnrollment(practice, "Maria Admin")
	if _, err := v.Create(ctx, practice, "Maria Admin", adminPass, enr); err != nil {
		b.Fatal(err)
	}
	raw, _ := b32.DecodeString(enr.Secret())
	clk.Advance(time.Minute)
	s, err := v.SignIn(ctx, "Maria Admin", adminPass, totpCode(raw, clk.Now().Unix()/totpPeriod, totpDigits))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Lock(ctx)
	if err := s.AddPatients(ctx, DemoPatients(100_000, 5, clk.Now()), nil); err != nil {
		b.Fatal(err)
	}
	s.general.Checkpoint(ctx)
	var dbBytes int64
	for _, n := range []string{"general.db", "general.db-wal", "clinical.db", "clinical.db-wal"} {
		if st, err := os.Stat(filepath.Join(v.Dir, n)); err == nil {
			dbBytes += st.Size()
		}
	}
	dir := b.TempDir()
	b.ResetTimer()
	var size int64
	for i := 0; i < b.N; i++ {
		clk.Advance(time.Second)
		info, err := s.CreateBackup(ctx, dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		size = info.Size
		b.StopTimer()
		os.Remove(info.Path)
		b.StartTimer()
	}
	b.ReportMetric(float64(size)/(1<<20), "backup-MiB")
	b.ReportMetric(float64(dbBytes)/(1<<20), "db-files-MiB")
}

// BenchmarkImport imports a generated sheet of 100,000 patients, as CSV
// and as XLSX, into an encrypted and into an unencrypted vault (goal for
// CSV: 20,000 rows/s). CLINICVAULT_BENCH_ROWS changes the size.
func BenchmarkImport(b *testing.B) {
	ctx := context.Background()
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("CLINICVAULT_BENCH_ROWS")); err == nil && v > 0 {
		n = v
	}
	csvPath, xlsxPath, err := writeBenchSheets(b.TempDir(), n, testEpoch)
	if err != nil {
		b.Fatal(err)
	}
	for _, sheet := range []struct{ name, path string }{{"csv", csvPath}, {"xlsx", xlsxPath}} {
		perEngine(b, sheet.name+"/", func(b *testing.B, s *Session) {
			start := time.Now()
			plan, err := s.PlanImport(ctx, sheet.path)
			if err != nil {
				b.Fatal(err)
			}
			got, err := s.Import(ctx, plan, false, nil)
			if err != nil || got != n {
				b.Fatalf("imported %d of %d: %v", got, n, err)
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "rows/s")
		})
	}
}

// perEngine runs measure as two sub-benchmarks, on a fresh encrypted and
// a fresh plain vault at each iteration (made and closed off the clock);
// measure reports its own metrics.
func perEngine(b *testing.B, prefix string, measure func(b *testing.B, s *Session)) {
	ctx := context.Background()
	for _, enc := range []bool{true, false} {
		b.Run(prefix+map[bool]string{true: "encrypted", false: "plain"}[enc], func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s, err := benchSession(ctx, b.TempDir(), enc, testEpoch)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				measure(b, s)
				b.StopTimer()
				s.Lock(ctx)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkExportFHIR exports 10,000 synthetic patients, 100 of them with
// charts, as an age-encrypted FHIR bundle.
func BenchmarkExportFHIR(b *testing.B) {
	ctx := context.Background()
	s, err := benchSession(ctx, b.TempDir(), true, testEpoch)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Lock(ctx)
	if err := s.Demo(ctx, 10_000, 9, nil); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		n, err := s.Export(ctx, io.Discard, ExportOptions{Format: FormatFHIR, Recipient: benchRecipient})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "patients/s")
	}
}

// benchRecipient is an age recipient for benchmarks (its identity is not kept).
const benchRecipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"

// BenchmarkAddPatients inserts 20,000 synthetic patients in one bulk
// transaction, encrypted and on the plain engine (goal: 20,000 rows/s).
func BenchmarkAddPatients(b *testing.B) {
	ctx := context.Background()
	perEngine(b, "", func(b *testing.B, s *Session) {
		b.StopTimer()
		nn := 20000
		if v, err := strconv.Atoi(os.Getenv("CLINICVAULT_BENCH_ROWS")); err == nil && v > 0 {
			nn = v
		}
		ps := DemoPatients(nn, 42, testEpoch)
		b.StartTimer()
		start := time.Now()
		if err := s.AddPatients(ctx, ps, nil); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(ps))/time.Since(start).Seconds(), "rows/s")
	})
}
