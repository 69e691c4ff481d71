package app

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/clinicvault/clinicvault/store"
)

// TestBusyDatabaseIsSaidInWords: another process holds general.db's
// write lock (an import's long transaction) for longer than a save
// waits. The save fails with ErrBusy and a sentence, never SQLite's
// "database is locked"; sync's retry still sees SQLite's error.
func TestBusyDatabaseIsSaidInWords(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	holdWriteLock(t, a)
	_, _, err := a.AddPatient(ctx, Patient{Given: "Busy", Family: "Day", DOB: "1990-01-01"})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("a save while another process holds the database: %v, want ErrBusy", err)
	}
	if strings.Contains(err.Error(), "database is locked") || strings.Contains(err.Error(), "sqlite") {
		t.Fatalf("the raw SQLite text reaches the person: %q", err)
	}
	if !store.IsTransient(err) {
		t.Fatal("ErrBusy hides SQLite's error from the retry logic")
	}
}

// TestBusyDatabaseSignInAndImportSayItInWords (#15, item 2): while
// another process holds general.db's write lock past the busy timeout
// (a 300,000-row import in the field), a sign-in and an import in this
// process either work or fail with a sentence (ErrBusy) — never SQLite's
// "database is locked" — and the import leaves nothing half-written.
func TestBusyDatabaseSignInAndImportSayItInWords(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a := f.mustSignIn("Maria Admin", adminPass)
	sheet := writeFile(t, "busy.csv", []byte("Last Name,First Name,DOB\nBusy,Bea,1980-01-01\n"))
	plan, err := a.PlanImport(ctx, sheet)
	if err != nil {
		t.Fatal(err)
	}
	release := holdWriteLock(t, a)
	words := func(what string, err error) {
		t.Helper()
		if err == nil {
			return
		}
		if !errors.Is(err, ErrBusy) {
			t.Errorf("%s while another process holds the database: %v, want ErrBusy or success", what, err)
		}
		if strings.Contains(err.Error(), "database is locked") || strings.Contains(strings.ToLower(err.Error()), "sqlite") {
			t.Errorf("%s: the raw SQLite text reaches the person: %q", what, err)
		}
	}
	s, err := f.signIn("Maria Admin", adminPass)
	words("a sign-in", err)
	if err == nil {
		s.Lock(ctx)
	}
	n, err := a.Import(ctx, plan, false, nil)
	words("an import", err)
	if err == nil || n != 0 {
		t.Fatalf("an import went in (%d) while another process held the database", n)
	}
	release()
	if n, err := a.Import(ctx, plan, false, nil); err != nil || n != 1 {
		t.Fatalf("the import once the database is free: %d, %v", n, err)
	}
}

// holdWriteLock holds general.db's write lock from another connection, as
// another ClinicVault process busy with a large change would, until
// release (or the end of the test).
func holdWriteLock(t *testing.T, a *Session) (release func()) {
	t.Helper()
	ctx := context.Background()
	other, err := store.Open(ctx, a.general.Path, store.General, a.kGen)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			conn.ExecContext(ctx, `ROLLBACK`)
			conn.Close()
			other.Close()
		})
	}
	t.Cleanup(release)
	return release
}
