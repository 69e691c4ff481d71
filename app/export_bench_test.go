package app

import (
	"context"
	"io"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkExportScale exports a practice of 100,000 synthetic patients
// (100 of them with full charts; an admin is clinical, so every patient's
// clinical sections are read) from an encrypted vault, age-encrypted to a
// recipient, as CSV and as a FHIR bundle with charts, and reports
// patients/s. Goals: CSV >= 20,000 patients/s, FHIR >= 5,000 patients/s.
// CLINICVAULT_BENCH_ROWS changes the size.
func BenchmarkExportScale(b *testing.B) {
	ctx := context.Background()
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("CLINICVAULT_BENCH_ROWS")); err == nil && v > 0 {
		n = v
	}
	s, err := benchSession(ctx, b.TempDir(), true, testEpoch)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Lock(ctx)
	if err := s.Demo(ctx, n, 9, nil); err != nil {
		b.Fatal(err)
	}
	for _, f := range []ExportFormat{FormatCSV, FormatFHIR} {
		b.Run(string(f), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				start := time.Now()
				got, err := s.Export(ctx, io.Discard, ExportOptions{Format: f, Recipient: benchRecipient})
				if err != nil || got != n {
					b.Fatalf("exported %d of %d: %v", got, n, err)
				}
				b.ReportMetric(float64(got)/time.Since(start).Seconds(), "patients/s")
			}
		})
	}
}
