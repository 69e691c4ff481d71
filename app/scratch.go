package app

import (
	"os"
	"regexp"
	"time"

	"github.com/clinicvault/clinicvault/store"
)

// The scratch files and folders a backup or its check makes beside the
// backups, named so that nothing of anyone else's looks like them: a
// backup's work folder of snapshots, a check's work folder, and the
// backup file being written. A crash (a killed process, a power cut)
// leaves them behind; the next backup or check in that folder deletes
// those untouched for store.StaleAge (an hour), and nothing else.
var (
	snapshotScratch = store.ScratchName{Prefix: ".clinicvault-snapshot-"}
	verifyScratch   = store.ScratchName{Prefix: ".clinicvault-verify-"}
	partialScratch  = store.ScratchName{Prefix: ".clinicvault-", Suffix: BackupExt + ".partial",
		Middle: regexp.MustCompile(`^.*-[0-9]{8}-[0-9]{6}$`).MatchString}
	// tempVerifyScratch is a check's work folder in the system's temp
	// folder, used when the backup's own folder is read-only.
	tempVerifyScratch = store.ScratchName{Prefix: "clinicvault-verify-"}
)

// sweepBackupScratch deletes the stale leftovers of crashed backups and
// checks in dir (see store.SweepStale). File times are real times, so
// the real clock judges them, never a vault's (tests move that one).
func sweepBackupScratch(dir string) []string {
	return store.SweepStale(dir, time.Now(), snapshotScratch, verifyScratch, partialScratch)
}

// sweepTempScratch does the same in the system's temp folder, for the
// names only ClinicVault gives there.
func sweepTempScratch() []string {
	return store.SweepStale(os.TempDir(), time.Now(), tempVerifyScratch)
}
