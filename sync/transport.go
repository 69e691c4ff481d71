package sync

import (
	"context"
	"time"
)

// Transport is where computers meet: the shared folder today (Folder),
// a relay later. The replication code in app speaks only to this. Paths
// are slash-separated and relative ("epochs/3/u-…", "audit/<device>/…");
// batches have their own calls because their places are the log's
// order.
//
// Its promises: a batch's place (device, seq) is written at most once
// (Put returns ErrExists when taken) and so is a WriteOnce path; Replace
// writes whole or not at all; Seqs lists a device's places after a
// number in order; Watch calls changed when something may have arrived,
// until ctx ends. A transport that cannot be reached returns an error
// wrapping ErrUnreachable.
type Transport interface {
	Check() error
	Put(device string, seq uint64, env []byte) error
	ReplaceBatch(device string, seq uint64, env []byte) error
	Get(device string, seq uint64) ([]byte, error)
	Devices() ([]string, error)
	Seqs(device string, after uint64) ([]uint64, error)
	WriteOnce(path string, data []byte) error
	Replace(path string, data []byte) error
	Read(path string) ([]byte, error)
	List(dir string) ([]string, error)
	Dirs(dir string) ([]string, error)
	Remove(path string) error
	Epochs() ([]uint32, error)
	Watch(ctx context.Context, poll time.Duration, changed func())
}
