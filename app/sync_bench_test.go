package app

import (
	"context"
	"database/sql"
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
		f := newFixtureB(b)
		dir := b.TempDir()
		a := f.mustSignInB(b, "Maria Admin", adminPass)
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
		bv := pairB(b, f, a, dir)
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
	f := newFixtureB(b)
	dir := b.TempDir()
	a := f.mustSignInB(b, "Maria Admin", adminPass)
	a.Sync(ctx, dir)
	bv := pairB(b, f, a, dir)
	a.Sync(ctx, dir)
	bs := f.signInOnB(b, bv, "Maria Admin", adminPass)
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
