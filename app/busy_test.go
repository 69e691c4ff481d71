package app

import (
	"context"
	"errors"
	"strings"
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
	other, err := store.Open(ctx, a.general.Path, store.General, a.kGen)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, `ROLLBACK`)
	_, _, err = a.AddPatient(ctx, Patient{Given: "Busy", Family: "Day", DOB: "1990-01-01"})
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
