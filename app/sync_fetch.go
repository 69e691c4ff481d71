package app

import (
	"context"
	"fmt"

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
	devices, err := f.Devices()
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
