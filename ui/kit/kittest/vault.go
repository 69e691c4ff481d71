package kittest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/clinicvault/clinicvault/app"
)

// Clock is a settable clock safe for background goroutines.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Add moves the clock on by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Code is the authenticator code for secret at the time at.
func Code(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewVault is an empty vault in the folder name of a temporary
// directory, with fast key derivation and clk as its clock.
func NewVault(t testing.TB, name string, clk *Clock) *app.Vault {
	t.Helper()
	v := app.NewVault(filepath.Join(t.TempDir(), name))
	v.UseMinimumKDF()
	v.Now = clk.Now
	return v
}

// CreateVault creates v for the practice with its first admin, enrolled
// with a code at clk's time, and returns the admin's TOTP secret and the
// vault's recovery key.
func CreateVault(t testing.TB, v *app.Vault, clk *Clock, practice, admin, pass string) (secret, recovery string) {
	t.Helper()
	enr, err := app.NewEnrollment(practice, admin)
	if err != nil {
		t.Fatal(err)
	}
	if !enr.Confirm(Code(t, enr.Secret(), clk.Now()), clk.Now()) {
		t.Fatal("enrollment refused its own code")
	}
	created, err := v.Create(context.Background(), practice, admin, pass, enr)
	if err != nil {
		t.Fatal(err)
	}
	return enr.Secret(), created.RecoveryKey
}

// SignIn moves clk, v's clock, to a fresh TOTP step (a step is never
// accepted twice) and signs name in on v with the code for secret. The
// session is locked when the test ends.
func SignIn(t testing.TB, v *app.Vault, clk *Clock, name, pass, secret string) *app.Session {
	t.Helper()
	clk.Add(30 * time.Second)
	s, err := v.SignIn(context.Background(), name, pass, Code(t, secret, clk.Now()))
	if err != nil {
		t.Fatalf("sign in %s on %s: %v", name, v.Dir, err)
	}
	t.Cleanup(func() { s.Lock(context.Background()) })
	return s
}

// AddUser adds a member of staff to the practice through admin and
// returns their TOTP secret.
func AddUser(t testing.TB, admin *app.Session, practice, name string, role app.Role, pass string) (secret string) {
	t.Helper()
	enr, err := app.NewEnrollment(practice, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.AddUser(context.Background(), name, role, pass, enr); err != nil {
		t.Fatalf("add %s: %v", name, err)
	}
	return enr.Secret()
}
