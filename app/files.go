package app

import (
	"os"
	"regexp"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// Files people write out of ClinicVault (exports, PDFs, QR images, the
// recovery kit, the access review) are made new with mode 0600, never
// written through a symbolic link, and replace an older file whole: the
// storage layer's rules, for the screens and the command line, which reach
// files only through app.

var (
	// ErrFileExists: CreateNew and WriteNew found something at the name.
	ErrFileExists = store.ErrFileExists
	// ErrLinkNotFollowed: the chosen name is a symbolic link.
	ErrLinkNotFollowed = store.ErrLinkNotFollowed
)

// CreateNew creates path as a new file of mode 0600 (ErrFileExists when
// something is there).
func CreateNew(path string) (*os.File, error) { return store.CreateNew(path) }

// WriteNew writes data to path as a new file of mode 0600.
func WriteNew(path string, data []byte) error { return store.WriteNew(path, data) }

// Replacement is a file written to take the place of another whole once
// committed (see NewReplacement).
type Replacement = store.Replacement

// NewReplacement starts writing a file that replaces path when its Commit
// is called; a link at path is refused.
func NewReplacement(path string) (*Replacement, error) { return store.NewReplacement(path) }

// benchScratch names the bench's scratch folders in the temp folder:
// clinicvault-bench-DIGITS and clinicvault-bench-KIND-DIGITS.
var benchScratch = store.ScratchName{Prefix: "clinicvault-bench-", Middle: regexp.MustCompile(`^([a-z]+-)?[0-9]+$`).MatchString}

// BenchScratch makes a scratch folder for `clinicvault bench` in the temp
// folder (kind: "" or a word naming the benchmark), held as in use until
// release, which removes it. Scratch folders a bench killed midway left
// there, an hour old and no longer in use, go first (store.SweepStale).
func BenchScratch(kind string) (dir string, release func(), err error) {
	store.SweepStale(os.TempDir(), time.Now(), benchScratch)
	pattern := "clinicvault-bench-*"
	if kind != "" {
		pattern = "clinicvault-bench-" + kind + "-*"
	}
	return store.MkdirWork("", pattern)
}
