package app

import (
	"context"
	"testing"
	"time"
)

// BenchmarkSignIn splits a sign-in into the Argon2id derivation and
// everything else (slot, grants, both databases, the TOTP check, the audit
// row, the first screen's data). Goal: everything else <= 10 % of the KDF.
// It uses the parameters a new vault calibrates to on this machine.
func BenchmarkSignIn(b *testing.B) {
	clk := &clock{t: time.Now()}
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
