package app

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Benchmark versions of the fixture helpers (testing.TB throughout).

func newFixtureB(tb testing.TB) *fixture {
	tb.Helper()
	clk := &clock{t: testEpoch}
	v := NewVault(filepath.Join(tb.TempDir(), "ClinicVault"))
	v.Now = clk.Now
	v.UseMinimumKDF()
	f := &fixture{v: v, clk: clk, secrets: map[string]string{}}
	enr, _ := NewEnrollment(practice, "Maria Admin")
	raw, _ := b32.DecodeString(enr.Secret())
	enr.Confirm(totpCode(raw, clk.Now().Unix()/totpPeriod, totpDigits), clk.Now())
	if _, err := v.Create(context.Background(), practice, "Maria Admin", adminPass, enr); err != nil {
		tb.Fatal(err)
	}
	f.secrets["Maria Admin"] = enr.Secret()
	return f
}

func (f *fixture) code(tb testing.TB, name string) string {
	raw, err := b32.DecodeString(f.secrets[name])
	if err != nil {
		tb.Fatal(err)
	}
	return totpCode(raw, f.clk.Now().Unix()/totpPeriod, totpDigits)
}

func (f *fixture) mustSignInB(tb testing.TB, name, pass string) *Session {
	return f.signInOnB(tb, f.v, name, pass)
}

func (f *fixture) signInOnB(tb testing.TB, v *Vault, name, pass string) *Session {
	tb.Helper()
	f.clk.Advance(totpPeriod * time.Second)
	s, err := v.SignIn(context.Background(), name, pass, f.code(tb, name))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func pairB(tb testing.TB, f *fixture, s *Session, dir string) *Vault {
	tb.Helper()
	ctx := context.Background()
	inv, err := s.InviteDevice(ctx, dir)
	if err != nil {
		tb.Fatal(err)
	}
	nv := NewVault(filepath.Join(tb.TempDir(), "joined"))
	nv.Now = f.clk.Now
	nv.UseMinimumKDF()
	done := make(chan error, 1)
	go func() { done <- nv.Join(ctx, dir, strings.ToLower(inv.Code), "bench", nil, 5*time.Millisecond) }()
	req, _, err := inv.WaitForDevice(ctx, f.clk.Now, 5*time.Millisecond)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.ApproveDevice(ctx, inv, req); err != nil {
		tb.Fatal(err)
	}
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	return nv
}
