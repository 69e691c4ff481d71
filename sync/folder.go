package sync

import "github.com/clinicvault/clinicvault/sync/folder"

// Folder is the shared-folder transport: a network share, a USB stick or
// a folder a cloud service syncs (package sync/folder).
type Folder = folder.Folder

// ErrUnreachable means a transport cannot be reached now (unplugged
// drive, network share down, relay away); work goes on and the next pass
// catches up.
var ErrUnreachable = folder.ErrUnreachable

// ErrExists means a place that is written once is already taken.
var ErrExists = folder.ErrExists

var _ Transport = Folder{}
