package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// peakDuring runs fn while sampling the heap, and returns the most it
// held above where it started.
func peakDuring(fn func()) uint64 {
	heap, _ := peaksDuring(fn)
	return heap
}

// peaksDuring runs fn while sampling the heap every millisecond, and
// returns the most it held above where it started (HeapAlloc: live
// objects and garbage not yet collected) and the most the last garbage
// collection found live (what the heap must hold; Go lets garbage grow
// to about as much again before collecting).
func peaksDuring(fn func()) (heap, live uint64) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	metrics.Read(sample)
	base, baseLive := m.HeapAlloc, sample[0].Value.Uint64()
	var peak, peakLive atomic.Uint64
	peak.Store(base)
	peakLive.Store(baseLive)
	done, stopped := make(chan struct{}), make(chan struct{})
	read := func(m *runtime.MemStats, sample []metrics.Sample) {
		runtime.ReadMemStats(m)
		metrics.Read(sample)
		if m.HeapAlloc > peak.Load() {
			peak.Store(m.HeapAlloc)
		}
		if l := sample[0].Value.Uint64(); l > peakLive.Load() {
			peakLive.Store(l)
		}
	}
	go func() {
		defer close(stopped)
		var m runtime.MemStats
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
			read(&m, sample)
		}
	}()
	fn()
	close(done)
	<-stopped
	read(&m, sample)
	return peak.Load() - base, peakLive.Load() - min(baseLive, peakLive.Load())
}

// TestHostileImportsAreRefusedEarly (#15, item 1, the hostile files): a
// 6 MB FHIR bundle of two million {} entries, and a workbook of 600,000
// rows, are refused with the numbers, without being read into memory
// (the bundle took 2.7 GB before).
func TestHostileImportsAreRefusedEarly(t *testing.T) {
	f := newFixture(t)
	a := f.mustSignIn("Maria Admin", adminPass)
	dir := t.TempDir()
	bundle := filepath.Join(dir, "hostile.json")
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"Bundle","type":"collection","entry":[`)
	for i := range 2_000_000 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("{}")
	}
	b.WriteString("]}")
	if err := os.WriteFile(bundle, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	peak := peakDuring(func() { _, err = a.PlanImport(context.Background(), bundle) })
	if !errors.Is(err, ErrImportTooLarge) {
		t.Fatalf("a bundle of two million entries: %v, want ErrImportTooLarge", err)
	}
	if peak > 100<<20 {
		t.Fatalf("refusing it held %d MB", peak>>20)
	}

	wb := excelize.NewFile()
	sw, err := wb.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	sw.SetRow("A1", []any{"Given", "Family", "Date of birth"})
	for r := 2; r <= 600_001; r++ {
		cell, _ := excelize.CoordinatesToCellName(1, r)
		sw.SetRow(cell, []any{"x"})
	}
	sw.Flush()
	sheet := filepath.Join(dir, "rows.xlsx")
	if err := wb.SaveAs(sheet); err != nil {
		t.Fatal(err)
	}
	_, err = a.PlanImport(context.Background(), sheet)
	if !errors.Is(err, ErrImportTooLarge) {
		t.Fatalf("a workbook of 600,000 rows: %v, want ErrImportTooLarge", err)
	}
}

// TestAttackHostileCSV (#15, item 1): a CSV of more rows than one import
// takes is refused at the row past the limit, and one with a line of
// 5 MB (encoding/csv would hold a line of any length whole) is refused
// at that line, each holding little.
func TestAttackHostileCSV(t *testing.T) {
	f := newFixture(t)
	a := f.mustSignIn("Maria Admin", adminPass)
	var rows bytes.Buffer
	rows.WriteString("Last Name,First Name,DOB\n")
	for range maxImportRows + 1 {
		rows.WriteString(",,\n")
	}
	var err error
	peak := peakDuring(func() { _, err = a.PlanImport(context.Background(), writeFile(t, "rows.csv", rows.Bytes())) })
	if !errors.Is(err, ErrImportTooLarge) || !strings.Contains(err.Error(), "more than 500000 rows") {
		t.Fatalf("a CSV of %d rows: %v, want ErrImportTooLarge", maxImportRows+1, err)
	}
	if peak > 32<<20 {
		t.Fatalf("refusing it held %d MB", peak>>20)
	}
	line := []byte("Last Name,First Name,DOB\nSmith,Ann,\"" + strings.Repeat("x", 5<<20) + "\"\n")
	peak = peakDuring(func() { _, err = a.PlanImport(context.Background(), writeFile(t, "line.csv", line)) })
	if !errors.Is(err, ErrUnreadableSheet) || !strings.Contains(err.Error(), "the row after line 1 is longer than 4 MB") {
		t.Fatalf("a CSV line of 5 MB: %v", err)
	}
	if peak > 32<<20 {
		t.Fatalf("refusing it held %d MB", peak>>20)
	}
}

// TestAttackHugeFHIREntry: a bundle whose second entry is a Patient with
// a 40 MB name (encoding/json would hold it whole, and more while
// decoding) is refused at that entry, holding little.
func TestAttackHugeFHIREntry(t *testing.T) {
	f := newFixture(t)
	a := f.mustSignIn("Maria Admin", adminPass)
	bundle := []byte(`{"resourceType":"Bundle","type":"collection","entry":[` +
		`{"resource":{"resourceType":"Patient","name":[{"family":"Small","given":["Ann"]}],"birthDate":"1980-01-01"}},` +
		`{"resource":{"resourceType":"Patient","name":[{"family":"` + strings.Repeat("x", 40<<20) + `"}],"birthDate":"1980-01-01"}}]}`)
	path := writeFile(t, "huge-entry.json", bundle)
	bundle = nil
	var err error
	peak := peakDuring(func() { _, err = a.PlanImport(context.Background(), path) })
	if !errors.Is(err, ErrImportTooLarge) || !strings.Contains(err.Error(), "holds an entry of more than 4 MB") {
		t.Fatalf("a bundle with a 40 MB entry: %v", err)
	}
	if peak > 48<<20 {
		t.Fatalf("refusing it held %d MB", peak>>20)
	}
}
