package app

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// A vault.keys edited by hand to ask for 64 GiB of memory, 100,000 passes
// or 255 lanes is refused with a clear, typed error at once: nothing is
// derived (any of these would crash or hang the sign-in for hours), and
// the refusal is not counted as the person's failed attempt.
func TestSignInRefusesAnEditedKeyringsCostlyKDFBeforeDeriving(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name  string
		edit  func(p *store.KDFParams)
		param string
	}{
		{"memory 64 GiB", func(p *store.KDFParams) { p.MemoryKiB = 64 * 1024 * 1024 }, "memory"},
		{"time 100000", func(p *store.KDFParams) { p.Time = 100000 }, "time"},
		{"threads 255", func(p *store.KDFParams) { p.Threads = 255 }, "threads"},
		{"all three", func(p *store.KDFParams) { p.MemoryKiB, p.Time, p.Threads = 64*1024*1024, 100000, 255 }, "time"},
		{"passes × memory", func(p *store.KDFParams) { p.MemoryKiB, p.Time = 1024*1024, 64 }, "work"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var orig store.KDFParams
			if err := store.UpdateKeyring(f.v.Dir, func(k *store.Keyring) error {
				orig = *k.Slots[0].KDF
				c.edit(k.Slots[0].KDF)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			defer store.UpdateKeyring(f.v.Dir, func(k *store.Keyring) error { *k.Slots[0].KDF = orig; return nil })

			start := time.Now()
			_, err := f.signIn("Maria Admin", adminPass)
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("the refusal took %v: something was derived", took)
			}
			var le *store.KDFLimitError
			if !errors.As(err, &le) || !errors.Is(err, store.ErrCostlyKDF) || !strings.HasPrefix(le.Param, c.param) {
				t.Fatalf("got %v, want a *store.KDFLimitError on %s wrapping ErrCostlyKDF", err, c.param)
			}
			if !strings.Contains(err.Error(), "vault.keys") || !strings.Contains(err.Error(), "at most") {
				t.Errorf("message %q does not say what is wrong", err)
			}
			kr, _ := store.LoadKeyring(f.v.Dir)
			if th := kr.Throttle[kr.Slots[0].UserID]; th != nil && th.Failures != 0 {
				t.Errorf("the refusal counted as a failed attempt: %+v", th)
			}
		})
	}
	// Put back, the slot signs in again.
	f.mustSignIn("Maria Admin", adminPass)
}

// A last failure dated in the future (a clock that was set forward, or a
// date typed into vault.keys) counts as now: the wait is at most the
// longest there is, not 2,274,298,926 s.
func TestThrottleFromTheFutureWaitsASaneTime(t *testing.T) {
	f := newFixture(t)
	if err := store.UpdateKeyring(f.v.Dir, func(k *store.Keyring) error {
		th := k.ThrottleFor(k.Slots[0].UserID)
		th.Failures = freeFailures + 1
		th.LastFailure = f.clk.Now().Add(72 * 365 * 24 * time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, err := f.signIn("Maria Admin", adminPass)
	var te *ThrottledError
	if !errors.As(err, &te) {
		t.Fatalf("got %v, want a ThrottledError", err)
	}
	if te.Wait <= 0 || te.Wait > maxDelay {
		t.Fatalf("wait %v, want within (0, %v]", te.Wait, maxDelay)
	}
	if want := throttleWait(freeFailures + 1); te.Wait > want {
		t.Fatalf("wait %v, want at most %v (counted from now)", te.Wait, want)
	}
	// Once that wait is over, the right passphrase signs in.
	f.clk.Advance(te.Wait)
	f.mustSignIn("Maria Admin", adminPass)
}
