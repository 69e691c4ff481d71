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
	budget := &jsonBudget{r: bufio.NewReader(f)}
	budget.reset()
	dec := json.NewDecoder(budget)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return 0, nil
	}
	n := 0
	for budget.reset(); dec.More(); budget.reset() {
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
		for budget.reset(); dec.More(); budget.reset() {
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

// maxFHIRValue bounds one entry of a bundle (or any other member of it):
// encoding/json holds a value whole while it decodes it. A resource
// ClinicVault imports is a few kilobytes (a note at most 64 KB).
const maxFHIRValue = 4 << 20

// errFHIRValueTooLarge is what jsonBudget says past maxFHIRValue.
var errFHIRValueTooLarge = errors.New("a value larger than 4 MB")

// jsonBudget lets a JSON decoder read at most maxFHIRValue bytes from one
// reset to the next (the decoder reads ahead a little, which counts).
type jsonBudget struct {
	r    io.Reader
	left int
}

func (b *jsonBudget) reset() { b.left = maxFHIRValue }

func (b *jsonBudget) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errFHIRValueTooLarge
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= n
	return n, err
}
