package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	cvsync "github.com/clinicvault/clinicvault/sync"
)

// SyncProblem is one thing a sync pass found wrong: typed, so that the
// window and the CLI each word it their own way (the window names the
// computer, says a clock's lead in minutes) without reading app's English.
type SyncProblem struct {
	// Device is the computer whose log the problem is about; "" when it
	// is about this computer, the folder or the keys.
	Device string
	Kind   ProblemKind
	// Seq is the batch in Device's log (0: not about one batch), Epoch
	// the key epoch (ProblemNoKey, ProblemEpochFile), Wait how far the
	// device's clock runs ahead (ProblemClockAhead).
	Seq   uint64
	Epoch uint32
	Wait  time.Duration
	// Halted: Device's log stops at Seq, refused.
	Halted bool
	// Detail is the problem in app's words, for the CLI and logs.
	Detail string
}

// The kinds of problem that are not about one batch of another computer.
const (
	ProblemRevokedHere ProblemKind = "revoked-here" // this computer was revoked: nothing is sent
	ProblemNotSent     ProblemKind = "not-sent"     // changes made here wait (key not here, another person's, refused)
	ProblemForgedOwn   ProblemKind = "forged-own"   // a file in this computer's log was not ours: replaced
	ProblemEpochFile   ProblemKind = "epoch-file"   // a key-epoch file that is unreadable, unsigned or not for us
	ProblemKeyring     ProblemKind = "keyring"      // applying another computer's keyring change failed
	ProblemAudit       ProblemKind = "audit"        // the audit logs do not match, or a witness file was set aside
	ProblemFolder      ProblemKind = "folder"       // the folder could not be read, or holds names no computer writes
	ProblemCopies      ProblemKind = "copies"       // a cloud service left conflict copies in the folder (ignored)
	ProblemRelay       ProblemKind = "relay"        // the relay refused or did not take this practice's list of computers
)

// IsZero reports whether p is no problem at all.
func (p SyncProblem) IsZero() bool { return p.Kind == "" && p.Detail == "" }

// String is the problem as the CLI prints it: "device 1a2b3c4d: …" for a
// problem with another computer's log.
func (p SyncProblem) String() string {
	if p.Device == "" {
		return p.Detail
	}
	return fmt.Sprintf("device %s: %s", shortID(p.Device), p.Detail)
}

// ProblemText is the report's problems one per line, as the CLI prints
// them.
func (r SyncReport) ProblemText() string {
	out := make([]string, len(r.Problems))
	for i, p := range r.Problems {
		out[i] = p.String()
	}
	return strings.Join(out, "\n")
}

// note adds a problem that is not about another computer's log.
func (r *SyncReport) note(kind ProblemKind, format string, a ...any) {
	r.Problems = append(r.Problems, SyncProblem{Kind: kind, Detail: fmt.Sprintf(format, a...)})
}

// problem reports p, about another computer's log, and keeps it as that
// computer's current problem (Device.Problem) until a batch of it applies.
func (s *Session) problem(ctx context.Context, rep *SyncReport, p SyncProblem) {
	rep.Problems = append(rep.Problems, p)
	s.general.ExecContext(ctx, `INSERT INTO sync_peers (device, problem, problem_kind, problem_seq, problem_epoch, problem_wait_ms) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT(device) DO UPDATE SET problem = excluded.problem, problem_kind = excluded.problem_kind, problem_seq = excluded.problem_seq,
			problem_epoch = excluded.problem_epoch, problem_wait_ms = excluded.problem_wait_ms`,
		p.Device, p.Detail, string(p.Kind), p.Seq, p.Epoch, p.Wait.Milliseconds())
}

// clearProblem forgets a computer's current problem: a batch of its log
// applied.
func (s *Session) clearProblem(ctx context.Context, device string) {
	s.general.ExecContext(ctx, `UPDATE sync_peers SET problem = '', problem_kind = '', problem_seq = 0, problem_epoch = 0, problem_wait_ms = 0 WHERE device = ?`, device)
}

// noteFolder reports what a folder's listings set aside in this pass:
// copies a cloud service made when two computers changed a file at once,
// and names that no ClinicVault writes (that Windows cannot hold, or
// that differ only by case). None of them is ever read as the practice's
// data, so they are only shown, for an admin to delete.
func noteFolder(f cvsync.Transport, rep *SyncReport) {
	folder, ok := f.(cvsync.Folder)
	if !ok {
		return
	}
	if c := folder.Notes.Copies(); len(c) > 0 {
		what := "a copy"
		if len(c) > 1 {
			what = fmt.Sprintf("%d copies", len(c))
		}
		rep.note(ProblemCopies, "the sync folder holds %s that a cloud service made when two computers changed a file at once (%s): ClinicVault ignores them and reads only the originals; they can be deleted", what, someOf(c))
	}
	if o := folder.Notes.Odd(); len(o) > 0 {
		rep.note(ProblemFolder, "the sync folder holds %d names that ClinicVault never writes (%s): names Windows cannot hold, or that differ from another only by case; they are ignored", len(o), someOf(o))
	}
}

// someOf names the first three paths of ps and how many more there are.
func someOf(ps []string) string {
	if len(ps) <= 3 {
		return strings.Join(ps, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ps[:3], ", "), len(ps)-3)
}

// about is j as a problem with device's batch seq.
func (j judgment) about(device string, seq uint64) SyncProblem {
	return SyncProblem{Device: device, Kind: j.kind, Seq: seq, Epoch: j.epoch, Wait: j.wait, Detail: j.detail}
}
