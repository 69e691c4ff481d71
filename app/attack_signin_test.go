package app

// Sign-in holes from the second half of the adversarial review (issue
// 13): a code seen over a shoulder replayed at another computer, parallel
// guesses counted once, and a refusal whose time tells which factor was
// wrong.

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// TestAttackCodeSeenAtTheDeskReplayedOnTheLaptop: Maria signs in at the
// desk; someone behind her notes the code and, knowing her passphrase,
// types both at the laptop a few seconds later, after the computers have
// synced. The code is spent practice-wide: refused.
func TestAttackCodeSeenAtTheDeskReplayedOnTheLaptop(t *testing.T) {
	f, dir, a, b := twoMachines(t)
	ctx := context.Background()
	f.addUser(a, "Rita Front", Receptionist, recPass)
	mustSync(t, a, dir)
	mustSync(t, b, dir)
	a.Lock(ctx)
	b.Lock(ctx)
	f.clk.Advance(totpPeriod * time.Second)
	code := f.codeFor(f.secrets["Maria Admin"])
	desk, err := f.v.SignIn(ctx, "Maria Admin", adminPass, code)
	if err != nil {
		t.Fatal(err)
	}
	defer desk.Lock(ctx)
	mustSync(t, desk, dir)
	// The laptop syncs meanwhile, in Rita's session there.
	rita, err := b.v.SignIn(ctx, "Rita Front", recPass, f.codeFor(f.secrets["Rita Front"]))
	if err != nil {
		t.Fatal(err)
	}
	mustSync(t, rita, dir)
	rita.Lock(ctx)
	f.clk.Advance(5 * time.Second)
	s, err := b.v.SignIn(ctx, "Maria Admin", adminPass, code)
	if err == nil {
		s.Lock(ctx)
		t.Fatal("the code spent at the desk signed in at the laptop")
	}
	if !errors.Is(err, ErrSignInRefused) {
		t.Fatalf("refusal: %v", err)
	}
}

// TestAttackParallelGuessesEachCount: twenty processes (here goroutines,
// each with its own lock on vault.keys) guess a passphrase at once. Each
// guess counts (or waits its turn): afterwards the account is throttled,
// and the right passphrase does not go through at once.
func TestAttackParallelGuessesEachCount(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	f.addUser(a, "Rita Front", Receptionist, recPass)
	a.Lock(ctx)
	f.clk.Advance(totpPeriod * time.Second)
	var wg sync.WaitGroup
	var mu sync.Mutex
	refusals := map[string]int{}
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.v.SignIn(ctx, "Rita Front", "not her passphrase at all", "000000")
			var th *ThrottledError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.As(err, &th):
				refusals["throttled"]++
			case errors.Is(err, ErrSignInRefused):
				refusals["refused"]++
			default:
				refusals["other: "+err.Error()]++
			}
		}()
	}
	wg.Wait()
	kr, _ := store.LoadKeyring(f.v.Dir)
	slot, _ := kr.SlotByName("Rita Front")
	if th := kr.Throttle[slot.UserID]; th == nil || th.Failures < freeFailures || refusals["refused"] != th.Failures {
		t.Fatalf("20 parallel guesses: %v; throttle %+v", refusals, th)
	}
	code := f.codeFor(f.secrets["Rita Front"])
	if s, err := f.v.SignIn(ctx, "Rita Front", recPass, code); err == nil {
		s.Lock(ctx)
		t.Fatalf("the right passphrase went through at once after %v", refusals)
	} else if th := (*ThrottledError)(nil); !errors.As(err, &th) {
		t.Fatalf("after the guesses: %v, want a wait", err)
	}
}

// TestWrongCodeIsRefusedBeforeAnyDatabaseOpens: a wrong code must cost
// what a wrong passphrase costs, so the databases are not opened before
// the code is checked. Shown without a clock: with general.db made
// unreadable, a wrong code is still refused as a wrong code (it never
// reached the file), while the right code reaches it.
func TestWrongCodeIsRefusedBeforeAnyDatabaseOpens(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.mustSignIn("Maria Admin", adminPass).Lock(ctx)
	gen := filepath.Join(f.v.Dir, store.General.FileName())
	good, _ := os.ReadFile(gen)
	os.WriteFile(gen, []byte("not a database"), 0o600)
	f.clk.Advance(totpPeriod * time.Second)
	code := f.codeFor(f.secrets["Maria Admin"])
	_, err := f.v.SignIn(ctx, "Maria Admin", adminPass, wrongCode(code))
	if !errors.Is(err, ErrSignInRefused) {
		t.Fatalf("wrong code with general.db unreadable: %v, want the plain refusal (the file was opened first)", err)
	}
	// The failure counted; clear it as an admin would, then the right code.
	store.UpdateKeyring(f.v.Dir, func(k *store.Keyring) error { k.Throttle = nil; return nil })
	if _, err := f.v.SignIn(ctx, "Maria Admin", adminPass, code); err == nil || errors.Is(err, ErrSignInRefused) {
		t.Fatalf("right code with general.db unreadable: %v, want the database's error", err)
	}
	os.WriteFile(gen, good, 0o600)
}

func wrongCode(c string) string {
	b := []byte(c)
	b[0] = '0' + (b[0]-'0'+1)%10
	return string(b)
}

// TestFailedSignInsAreNeverLost: three failed sign-ins wait in vault.keys
// for a database to go into. The next good sign-in's write fails (a full
// disk, here a trigger that refuses it): they stay queued, and the sign-in
// after that moves them into the audit log, marked unverified (a process
// that held no key recorded them).
func TestFailedSignInsAreNeverLost(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	a.Lock(ctx)
	for i := 0; i < 3; i++ {
		if _, err := f.v.SignIn(ctx, "Maria Admin", "wrong wrong wrong wrong", "000000"); !errors.Is(err, ErrSignInRefused) {
			t.Fatal(err)
		}
	}
	kr, _ := store.LoadKeyring(f.v.Dir)
	gen, err := store.Open(ctx, filepath.Join(f.v.Dir, store.General.FileName()), store.General, unwrapInsider(t, kr, "Maria Admin", adminPass).kGen)
	if err != nil {
		t.Fatal(err)
	}
	gen.Exec(`CREATE TRIGGER full_disk BEFORE UPDATE OF last_signin_at ON users BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`)
	// Past the throttle's wait.
	f.clk.Advance(time.Hour)
	if s, err := f.v.SignIn(ctx, "Maria Admin", adminPass, f.codeFor(f.secrets["Maria Admin"])); err == nil {
		s.Lock(ctx)
		t.Fatal("the sign-in's write was to fail")
	}
	kr, _ = store.LoadKeyring(f.v.Dir)
	if len(kr.Pending) < 3 {
		t.Fatalf("the failed sign-ins left the queue with the failed write: %d left", len(kr.Pending))
	}
	gen.Exec(`DROP TRIGGER full_disk`)
	gen.Close()
	f.clk.Advance(time.Hour)
	s := f.mustSignIn("Maria Admin", adminPass)
	list, err := s.AuditList(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, e := range list {
		if e.Action == "signin-failed" {
			failed++
			if !strings.Contains(e.Detail, "unverified") {
				t.Errorf("a queued failure entered the log without saying it is unverified: %q", e.Detail)
			}
		}
	}
	if failed != 3 {
		t.Fatalf("%d failed sign-ins in the audit log, want 3", failed)
	}
}
