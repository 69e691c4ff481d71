package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/clinicvault/clinicvault/store"
	cvsync "github.com/clinicvault/clinicvault/sync"
)

// Reading the transport: what the folder holds of the other computers'
// logs past what this computer has received.

// incomingLog is what the folder holds of one other device's log past
// what this computer received: its next batches, in order, up to the
// first one missing or unreadable (named in problem).
type incomingLog struct {
	device  string
	batches []incomingBatch
	problem SyncProblem
}

// maxFetch bounds what one pass reads of a device's log (the watcher
// comes back for the rest at once: SyncNeeded sees it).
const maxFetch = 64 << 20

type incomingBatch struct {
	seq uint64
	env []byte
}

// fetchIncoming reads the other devices' new batches from the folder. It
// uses the database only to know where each log was left; it does not
// need the session held.
func fetchIncoming(ctx context.Context, f cvsync.Transport, gen *store.DB, self string) ([]incomingLog, error) {
	devices, extra, err := placeDevices(ctx, f, gen)
	if err != nil {
		return nil, err
	}
	var out []incomingLog
	for _, d := range devices {
		if d == self {
			continue
		}
		in := incomingLog{device: d}
		last, err := receivedUpTo(ctx, gen, d)
		if err != nil {
			return nil, err
		}
		seqs, err := f.Seqs(d, last)
		if extra[d] && nothingThere(seqs, err) {
			continue // nothing of it here (yet)
		}
		if err != nil {
			in.problem = SyncProblem{Device: d, Kind: ProblemFolder, Detail: err.Error()}
			out = append(out, in)
			continue
		}
		next := last + 1
		size := 0
		for _, q := range seqs {
			if size > maxFetch {
				break // the rest next pass: a long catch-up is not read into memory at once
			}
			if q != next {
				in.problem = SyncProblem{Device: d, Kind: ProblemMissing, Seq: next,
					Detail: fmt.Sprintf("batch %d is missing from the folder (have up to %d, next is %d): waiting for it", next, next-1, q)}
				break
			}
			env, err := f.Get(d, q)
			if err != nil {
				in.problem = SyncProblem{Device: d, Kind: ProblemFolder, Seq: q, Detail: err.Error()}
				break
			}
			in.batches = append(in.batches, incomingBatch{q, env})
			size += len(env)
			next++
		}
		out = append(out, in)
	}
	return out, nil
}

// placeDevices lists the computers whose logs are read at a place: those
// it lists, and those this computer knows of (the roster, and any it has
// taken batches from) whether or not the place lists them (extra): a
// relay lists a computer by one small entry of its own, which its
// operator can delete while leaving the batches (that computer finds
// them all there and writes nothing again), and the rest of the practice
// would stop hearing from it without a word. An extra computer with
// nothing at the place is skipped by the caller.
func placeDevices(ctx context.Context, f cvsync.Transport, gen *store.DB) (devices []string, extra map[string]bool, err error) {
	if devices, err = f.Devices(); err != nil {
		return nil, nil, err
	}
	listed := map[string]bool{}
	for _, d := range devices {
		listed[d] = true
	}
	known, err := stringSet(ctx, gen, `SELECT id FROM devices UNION SELECT device FROM sync_received`)
	if err != nil {
		return nil, nil, err
	}
	extra = map[string]bool{}
	for d := range known {
		if !listed[d] {
			devices = append(devices, d)
			listed[d], extra[d] = true, true
		}
	}
	sort.Strings(devices)
	return devices, extra, nil
}

// nothingThere reports whether Seqs's answer for a computer the place
// does not list says it holds nothing of it.
func nothingThere(seqs []uint64, err error) bool {
	return errors.Is(err, fs.ErrNotExist) || (err == nil && len(seqs) == 0)
}
