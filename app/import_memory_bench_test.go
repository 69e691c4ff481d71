package app

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkImportMemory (#15, item 1) reports the most heap an import
// holds above where it started, planning and writing: 100,000-row CSV and
// XLSX sheets, and a FHIR bundle of 20,000 patients (with charts for some)
// exported by ClinicVault itself. Goal: at most 300 MB each, and at most
// twice the file's size (unpacked) for honest files.
func BenchmarkImportMemory(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	csvPath, xlsxPath, err := writeBenchSheets(dir, 100_000, testEpoch)
	if err != nil {
		b.Fatal(err)
	}
	src, err := benchSession(ctx, b.TempDir(), true, testEpoch)
	if err != nil {
		b.Fatal(err)
	}
	if err := src.Demo(ctx, 20_000, 9, nil); err != nil {
		b.Fatal(err)
	}
	fhirPath := filepath.Join(dir, "bundle.json")
	fh, err := os.Create(fhirPath)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := src.Export(ctx, fh, ExportOptions{Format: FormatFHIR, Plaintext: true}); err != nil {
		b.Fatal(err)
	}
	fh.Close()
	src.Lock(ctx)
	for _, file := range []struct{ name, path string }{{"csv-100k", csvPath}, {"xlsx-100k", xlsxPath}, {"fhir-20k", fhirPath}} {
		b.Run(file.name, func(b *testing.B) {
			st, _ := os.Stat(file.path)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s, err := benchSession(ctx, b.TempDir(), true, testEpoch)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				peak := peakDuring(func() {
					plan, err := s.PlanImport(ctx, file.path)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := s.Import(ctx, plan, true, nil); err != nil {
						b.Fatal(err)
					}
				})
				b.StopTimer()
				b.ReportMetric(float64(peak)/(1<<20), "peak-MB")
				b.ReportMetric(float64(st.Size())/(1<<20), "file-MB")
				s.Lock(ctx)
				b.StartTimer()
			}
		})
	}
}
