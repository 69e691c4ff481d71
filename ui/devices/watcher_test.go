package devices

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/clinicvault/clinicvault/ui/kit/kittest"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// TestWatcher syncs by itself once a folder is chosen, reports each pass,
// updates an open Sync screen, and stops when the session locks.
func TestWatcher(t *testing.T) {
	ctx := context.Background()
	f := newPractice(t)
	a := newApp(t)
	shared := sharedFolder(t)
	sa := f.signIn(f.a, adminName, adminPass)
	if err := sa.SetSyncFolder(ctx, shared); err != nil {
		t.Fatal(err)
	}
	b := f.pairDirect(sa, shared, "Laptop", f.clk)
	sb := f.signIn(b, adminName, adminPass)
	if err := sb.SetSyncFolder(ctx, ""); err != nil {
		t.Fatal(err)
	}

	reports := make(chan error, 1000)
	stop := StartWatcher(sb, func(rep app.SyncReport, err error) { reports <- err })
	defer stop()
	select {
	case err := <-reports:
		t.Fatalf("a pass with no folder: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := sb.SetSyncFolder(ctx, shared); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-reports:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no pass after the folder was set")
	}

	w := newWindow(t, a, "ClinicVault")
	y := newSyncScreen(w, sb)
	show(w, sb, "Sync", y.view)
	kittest.Settle(t)
	mustShow(t, w, "(automatic)")

	if _, _, err := sa.AddPatient(ctx, app.Patient{Given: "Ana", Family: "Silva", DOB: "1980-01-01"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sa.Sync(ctx, shared); err != nil {
		t.Fatal(err)
	}
	kittest.WaitFor(t, "the patient on B", func() bool {
		got, _ := sb.SearchPatients(ctx, "Silva", 10)
		return len(got) == 1
	})
	kittest.WaitFor(t, "the screen to show the pass", func() bool {
		return y.last != nil && y.last.auto && y.last.rep.Applied > 0
	})
	mustShow(t, w, "Received 1.")
	kittest.Shot(t, w, "sync-automatic")

	// Unplugged: every pass says so.
	if err := os.Rename(shared, shared+"-gone"); err != nil {
		t.Fatal(err)
	}
	kittest.WaitFor(t, "an unreachable pass", func() bool {
		return y.last != nil && errors.Is(y.last.err, cvsync.ErrUnreachable)
	})
	mustShow(t, w, plain.Unreachable)
	if err := os.Rename(shared+"-gone", shared); err != nil {
		t.Fatal(err)
	}

	// Locking ends the watcher.
	sb.Lock(ctx)
	time.Sleep(300 * time.Millisecond)
	for len(reports) > 0 {
		<-reports
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(reports); n != 0 {
		t.Fatalf("%d passes after the session locked", n)
	}
}
