package app

import (
	"bufio"
	"encoding/json"
	"fmt"
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
)

// ErrImportTooLarge means a sheet or bundle holds more than one import
// may; it wraps ErrUnreadableSheet.
var ErrImportTooLarge = fmt.Errorf("too large for one import: %w", ErrUnreadableSheet)

// countFHIREntries counts the entries of a bundle's "entry" array, one
// at a time (none is kept), stopping past limit. What is not JSON is left
// for planFHIR to name.
func countFHIREntries(path string, limit int) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReader(f))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, nil
	}
	n := 0
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return n, nil
		}
		var skip json.RawMessage
		if key != "entry" {
			if dec.Decode(&skip) != nil {
				return n, nil
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return n, nil
		}
		for dec.More() {
			if dec.Decode(&skip) != nil {
				return n, nil
			}
			if n++; n > limit {
				return n, nil
			}
		}
		if _, err := dec.Token(); err != nil {
			return n, nil
		}
	}
	return n, nil
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
