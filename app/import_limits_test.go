package app

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

// peakDuring runs fn while sampling the heap, and returns the most it
// held above where it started.
func peakDuring(fn func()) uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	base := m.HeapAlloc
	var peak atomic.Uint64
	peak.Store(base)
	done, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		var m runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
		}
	}()
	fn()
	close(done)
	<-stopped
	runtime.ReadMemStats(&m)
	return max(peak.Load(), m.HeapAlloc) - base
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
