package app

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	cvsync "github.com/clinicvault/clinicvault/sync"
)

// BenchmarkSyncApply measures applying field changes from the folder on a
// second machine (goal: at least 50,000 field changes a second), and the
// bytes on disk per changed field against the plaintext they carry (goal:
// at most twice the plaintext plus 64 bytes).
func BenchmarkSyncApply(b *testing.B) {
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := newFixture(b)
		dir := b.TempDir()
		a := f.mustSignIn("Maria Admin", adminPass)
		if err := a.AddPatients(ctx, DemoPatients(5000, 7, f.clk.Now()), nil); err != nil {
			b.Fatal(err)
		}
		if _, err := a.Sync(ctx, dir); err != nil {
			b.Fatal(err)
		}
		records, plain := changeFields(b, a)
		var onDisk int64
		filepath.Walk(filepath.Join(dir, "devices"), func(p string, info os.FileInfo, err error) error {
			if info != nil && !info.IsDir() {
				onDisk += info.Size()
			}
			return nil
		})
		// Joining is a full catch-up: every field change is applied.
		b.StartTimer()
		start := time.Now()
		bv := pair(b, f, a, dir, "bench")
		elapsed := time.Since(start)
		b.StopTimer()
		_ = bv
		b.ReportMetric(float64(records)/elapsed.Seconds(), "fields/s")
		b.ReportMetric(float64(onDisk)/float64(records), "disk-bytes/field")
		b.ReportMetric(float64(plain)/float64(records), "plaintext-bytes/field")
		a.Lock(ctx)
		b.StartTimer()
	}
}

// BenchmarkPropagation measures how long a change takes to reach a
// machine that watches the folder (goal: at most 2 s).
func BenchmarkPropagation(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	dir := b.TempDir()
	a := f.mustSignIn("Maria Admin", adminPass)
	a.Sync(ctx, dir)
	bv := pair(b, f, a, dir, "bench")
	a.Sync(ctx, dir)
	bs := signInOn(b, f, bv, "Maria Admin", adminPass)
	bs.Sync(ctx, dir)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	applied := make(chan struct{}, 100)
	go cvsync.Folder{Dir: dir}.Watch(wctx, time.Second, func() {
		if rep, err := bs.Sync(wctx, dir); err == nil && rep.Applied > 0 {
			applied <- struct{}{}
		}
	})
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		a.AddPatient(ctx, Patient{Given: "Prop", Family: "Agation", DOB: "1990-01-01"})
		a.Sync(ctx, dir)
		select {
		case <-applied:
		case <-time.After(10 * time.Second):
			b.Fatal("the change did not arrive in 10 s")
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/propagation")
}

// changeFields counts the column values in a session's general change log
// and the bytes of plaintext they carry.
func changeFields(tb testing.TB, s *Session) (fields, plain int64) {
	rows, err := s.general.Query(`SELECT col, value FROM changes`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var col string
		var v sql.NullString
		rows.Scan(&col, &v)
		cols, err := decodeColumns(col, v)
		if err != nil {
			tb.Fatal(err)
		}
		for _, val := range cols {
			fields++
			if val != nil {
				plain += int64(len(*val))
			}
		}
	}
	return fields, plain
}

// BenchmarkSyncApplyEdits measures applying edits of one field each on a
// machine that already holds the records — the worst case for records per
// field: 3,000 phone numbers changed (a searched field: the search index
// is rewritten too) and 3,000 appointments checked in.
func BenchmarkSyncApplyEdits(b *testing.B) {
	ctx := context.Background()
	const n = 3000
	for _, kind := range []string{"phone", "appointment-status"} {
		b.Run(kind, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				f := newFixture(b)
				dir := b.TempDir()
				a := f.mustSignIn("Maria Admin", adminPass)
				ps := DemoPatients(n, 9, f.clk.Now())
				if err := a.AddPatients(ctx, ps, nil); err != nil {
					b.Fatal(err)
				}
				var appts []string
				if kind == "appointment-status" {
					if err := a.SetBookable(ctx, "Maria Admin", true); err != nil {
						b.Fatal(err)
					}
					day := f.clk.Now().Add(24 * time.Hour).Truncate(time.Hour)
					for k, p := range ps {
						ap, _, err := a.BookAppointment(ctx, p.MRN, day.Add(time.Duration(k)*15*time.Minute), 15, "Maria Admin", "check-up")
						if err != nil {
							b.Fatal(err)
						}
						appts = append(appts, ap.ID)
					}
				}
				a.Sync(ctx, dir)
				bv := pair(b, f, a, dir, "bench")
				a.Sync(ctx, dir)
				bs := signInOn(b, f, bv, "Maria Admin", adminPass)
				bs.Sync(ctx, dir)
				for k, p := range ps {
					var err error
					if kind == "phone" {
						_, err = a.EditPatient(ctx, p.MRN, PatientChanges{Phone: Str(fmt.Sprintf("+44 20 7000 %04d", k))})
					} else {
						err = a.SetAppointmentStatus(ctx, appts[k], StatusArrived)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if _, err := a.Sync(ctx, dir); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				rep, err := bs.Sync(ctx, dir)
				elapsed := time.Since(start)
				b.StopTimer()
				if err != nil || rep.Applied == 0 {
					b.Fatalf("%+v %v", rep, err)
				}
				if kind == "phone" {
					if got, _ := bs.GetPatient(ctx, ps[n-1].MRN); got.Phone != fmt.Sprintf("+44 20 7000 %04d", n-1) {
						b.Fatalf("edit not applied: %+v", got)
					}
				} else {
					var status string
					bs.general.QueryRow(`SELECT status FROM appointments WHERE id = ?`, appts[n-1]).Scan(&status)
					if status != StatusArrived {
						b.Fatalf("status not applied: %q", status)
					}
				}
				b.ReportMetric(float64(n)/elapsed.Seconds(), "fields/s")
				a.Lock(ctx)
				bs.Lock(ctx)
				b.StartTimer()
			}
		})
	}
}
