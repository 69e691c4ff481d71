package app

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// What one import may hold. A sheet or bundle over these is refused
// before it is read into memory (a small file can hold millions of empty
// rows or entries: a 6 MB bundle of two million {} entries took 2.7 GB),
// with the numbers, so that it can be split.
const (
	maxImportRows    = 500_000 // rows of a CSV or XLSX sheet
	maxImportEntries = 500_000 // entries of a FHIR bundle
	// maxImportRecord is the most a row of a sheet, or an entry of a
	// bundle, may hold: a patient's row is kilobytes (a note of 64 KB at
	// most); one line of hundreds of MB was held whole, two or three
	// times over, by the CSV and JSON readers.
	maxImportRecord = 4 << 20
	maxImportEntry  = 4 << 20 // a bundle's entry (or other value): 16 MB held 112 MB for a 40 MB entry
)

// openImportFile opens a file to import: a regular file only. A named
// pipe waited for a writer (forever, whatever the context), and a device
// such as /dev/zero, or a pipe with a writer that never stops, was read
// without end.
func openImportFile(path string) (*os.File, error) {
	notAFile := fmt.Errorf("%s is not a file (a pipe, a device or a folder): %w", filepath.Base(path), ErrUnreadableSheet)
	if st, err := os.Stat(path); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, notAFile
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err == nil {
			err = notAFile
		}
		return nil, err
	}
	return f, nil
}

// errRecordTooLarge is a recordGuard's refusal, worded by its reader.
var errRecordTooLarge = errors.New("a record too large")

// recordGuard passes on what it reads until more than limit bytes were
// read since start (which the reader moves on at each record): then it
// fails, before the reader above it has buffered more.
type recordGuard struct {
	r           io.Reader
	read, start int64
	limit       int64
}

func (g *recordGuard) Read(p []byte) (int, error) {
	if g.read-g.start > g.limit {
		return 0, errRecordTooLarge
	}
	n, err := g.r.Read(p)
	g.read += int64(n)
	return n, err
}

// ErrImportTooLarge means a sheet or bundle holds more than one import
// may; it wraps ErrUnreadableSheet.
var ErrImportTooLarge = fmt.Errorf("too large for one import: %w", ErrUnreadableSheet)

// countFHIREntries counts the entries of a bundle's "entry" array, one
// at a time (none is kept), stopping past limit. What is not JSON is left
// for planFHIR to name.
func countFHIREntries(path string, limit int) (int, error) {
	f, err := openImportFile(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	g := &recordGuard{r: f, limit: maxImportEntry}
	dec := json.NewDecoder(bufio.NewReader(g))
	// What is not JSON is planFHIR's to word; an entry too large is
	// refused here, before it is held.
	stop := func(err error) (int, error) {
		if errors.Is(err, errRecordTooLarge) {
			return 0, fhirTooLarge(path)
		}
		return 0, nil
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return stop(err)
	}
	n := 0
	for dec.More() {
		g.start = dec.InputOffset()
		key, err := dec.Token()
		if err != nil {
			return stop(err)
		}
		var skip json.RawMessage // at most maxImportEntry, by the guard
		if key != "entry" {
			if err := dec.Decode(&skip); err != nil {
				return stop(err)
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return stop(err)
		}
		for dec.More() {
			g.start = dec.InputOffset()
			if err := dec.Decode(&skip); err != nil {
				return stop(err)
			}
			if n++; n > limit {
				return n, nil
			}
		}
		if _, err := dec.Token(); err != nil {
			return stop(err)
		}
	}
	return n, nil
}

// fhirTooLarge refuses a bundle with an entry over maxImportEntry.
func fhirTooLarge(path string) error {
	return fmt.Errorf("%s holds an entry of more than %d MB, more than ClinicVault reads at once (it imports patients and their clinical entries, not documents): remove it, or export the bundle without attachments: %w", filepath.Base(path), maxImportEntry>>20, ErrImportTooLarge)
}

// checkFHIRSize refuses a bundle of more entries than one import holds.
func checkFHIRSize(path string) error {
	n, err := countFHIREntries(path, maxImportEntries)
	if err != nil {
		return err
	}
	if n > maxImportEntries {
		return fmt.Errorf("%s holds more than %d entries, more than one import takes: split it into smaller bundles: %w", filepath.Base(path), maxImportEntries, ErrImportTooLarge)
	}
	return nil
}
