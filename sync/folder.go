package sync

import "github.com/clinicvault/clinicvault/sync/folder"

// Folder is the shared-folder transport: a network share, a USB stick or
// a folder a cloud service syncs (package sync/folder, which says what
// it does about Windows' open files, case-insensitive names, paths and
// cloud conflict copies).
type Folder = folder.Folder

// FolderNotes collects the conflict copies and odd names a Folder's
// listings set aside (Folder.Notes), for an admin to see.
type FolderNotes = folder.Notes

// InUseError is the error of a folder operation on a file that stayed
// open in another program (an antivirus, an indexer, a cloud client,
// another computer): nothing was changed.
type InUseError = folder.InUseError

var (
	// ErrUnreachable means a transport cannot be reached now (unplugged
	// drive, network share down, relay away); work goes on and the next
	// pass catches up.
	ErrUnreachable = folder.ErrUnreachable
	// ErrExists means a place that is written once is already taken.
	ErrExists = folder.ErrExists
	// ErrInUse means a file in the folder stayed open in another program
	// for the two seconds it was tried (InUseError); the next pass tries
	// again.
	ErrInUse = folder.ErrInUse
	// ErrBadName means a path or device id is not a name a sync folder
	// holds (it would lead out of the folder, or Windows would refuse or
	// change it).
	ErrBadName = folder.ErrBadName
	// ErrNameClash means two names in the folder differ only by case
	// where one was asked for.
	ErrNameClash = folder.ErrNameClash
	// ErrNotPlain means a name in the folder is a link or a special file
	// (planted there: ClinicVault makes none), which is never followed.
	ErrNotPlain = folder.ErrNotPlain
)

var _ Transport = Folder{}
