package app

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
)

// The test fixture: a vault on a fixed clock, its staff and their
// authenticators, signing in.

const (
	practice  = "Riverside Family Practice"
	adminPass = "violet tugboat harmonica spreadsheet"
	recPass   = "copper lantern meadow quietly"
	docPass   = "saffron glacier typewriter pebble"
)

// testEpoch is the tests' "now": no test reads the wall clock or depends
// on the date it runs (TestGeneratorsUnderClocksAYearApart checks the
// generators and the importer under other dates).
var testEpoch = time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)

// clock is an injectable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	t        testing.TB
	v        *Vault
	clk      *clock
	secrets  map[string]string // user -> base32 TOTP secret
	recovery string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureAt(t, testEpoch)
}

// newFixtureAt is newFixture with its clock set to at.
func newFixtureAt(t testing.TB, at time.Time) *fixture {
	t.Helper()
	clk := &clock{t: at}
	v := NewVault(filepath.Join(t.TempDir(), "ClinicVault"))
	v.Now = clk.Now
	v.UseMinimumKDF()
	f := &fixture{t: t, v: v, clk: clk, secrets: map[string]string{}}
	enr, err := NewEnrollment(practice, "Maria Admin")
	if err != nil {
		t.Fatal(err)
	}
	if !enr.Confirm(f.codeFor(enr.Secret()), clk.Now()) {
		t.Fatal("enrollment refused its own code")
	}
	created, err := v.Create(context.Background(), practice, "Maria Admin", adminPass, enr)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	f.secrets["Maria Admin"] = enr.Secret()
	f.recovery = created.RecoveryKey
	return f
}

func (f *fixture) codeFor(secret string) string {
	raw, err := b32.DecodeString(secret)
	if err != nil {
		f.t.Fatal(err)
	}
	return totpCode(raw, f.clk.Now().Unix()/totpPeriod, otp.DigitsSix)
}

// signIn moves the clock to a fresh TOTP step and signs in.
func (f *fixture) signIn(name, pass string) (*Session, error) {
	f.clk.Advance(totpPeriod * time.Second)
	return f.v.SignIn(context.Background(), name, pass, f.codeFor(f.secrets[name]))
}

func (f *fixture) mustSignIn(name, pass string) *Session {
	f.t.Helper()
	s, err := f.signIn(name, pass)
	if err != nil {
		f.t.Fatalf("sign in %s: %v", name, err)
	}
	f.t.Cleanup(func() { s.Lock(context.Background()) })
	return s
}

func (f *fixture) addUser(s *Session, name string, role Role, pass string) {
	f.t.Helper()
	enr, err := NewEnrollment(practice, name)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := s.AddUser(context.Background(), name, role, pass, enr); err != nil {
		f.t.Fatalf("add %s: %v", name, err)
	}
	f.secrets[name] = enr.Secret()
}
