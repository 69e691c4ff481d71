package app

import (
	"context"
	"errors"
	"time"

	cvsync "github.com/clinicvault/clinicvault/sync"
)

// The session's two background loops, the same for the window and the
// command line: keeping in step with the sync folder, and the daily
// backup. Each runs until its context ends or the session locks, and
// returns only once everything it started has stopped.

// SyncPass is one pass of Replicate.
type SyncPass struct {
	At     time.Time
	Folder string
	Report SyncReport
	Err    error // wraps cvsync.ErrUnreachable while the folder is away
	// Idle: there was nothing to send or receive, so the folder was only
	// looked at (no pass ran, nothing was written or audited).
	Idle bool
}

// ReplicateOptions tune Replicate.
type ReplicateOptions struct {
	// Folder is the sync folder to follow; "" follows the session's
	// setting (SyncFolder), waiting while none is chosen and moving to a
	// new one within seconds of its being chosen.
	Folder string
	// Poll is how often the folder is looked at when file-system
	// notifications do not arrive (network shares); 1 s when zero.
	Poll time.Duration
	// SettingPoll is how often the setting is read while no folder is
	// chosen; 2 s when zero.
	SettingPoll time.Duration
	// OnPass, when not nil, is called after every pass and every idle
	// look, on Replicate's goroutine. Passes cut short by the end are
	// not reported.
	OnPass func(SyncPass)
}

// Replicate keeps this computer in step with the sync folder while the
// session is open: a pass at once, then whenever the folder changes (or
// at every Poll). Passes never overlap, and a burst of changes makes one
// pass. It is not a person's activity: the idle lock does not see it.
//
// It returns ErrLocked when the session locks (or was locked), and the
// context's error when ctx ends.
func (s *Session) Replicate(ctx context.Context, o ReplicateOptions) error {
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.SettingPoll <= 0 {
		o.SettingPoll = 2 * time.Second
	}
	ctx, cancel := s.untilLocked(ctx)
	defer cancel()
	for {
		if err := s.serviceDone(ctx); err != nil {
			return err
		}
		dir := o.Folder
		if dir == "" {
			dir = s.SyncFolder(ctx)
		}
		if dir == "" {
			select {
			case <-ctx.Done():
			case <-time.After(o.SettingPoll):
			}
			continue
		}
		s.replicateThrough(ctx, dir, o)
	}
}

// untilLocked is ctx, also cancelled when the session locks.
func (s *Session) untilLocked(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	s.OnLock(cancel)
	if s.Locked() {
		cancel()
	}
	return ctx, cancel
}

// serviceDone is why a background loop must end: ErrLocked, the
// context's error, or nil.
func (s *Session) serviceDone(ctx context.Context) error {
	if s.Locked() {
		return ErrLocked
	}
	return ctx.Err()
}

// replicateThrough syncs through dir until the session's folder is
// another one (when following the setting) or the loop ends.
func (s *Session) replicateThrough(ctx context.Context, dir string, o ReplicateOptions) {
	dctx, cancel := context.WithCancel(ctx)
	kick := make(chan struct{}, 1)
	kick <- struct{}{} // once at start
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		cvsync.Folder{Dir: dir}.Watch(dctx, o.Poll, func() {
			select {
			case kick <- struct{}{}:
			default: // a pass is due already
			}
		})
	}()
	defer func() {
		cancel()
		<-watching
	}()
	report := func(p SyncPass) {
		if s.serviceDone(ctx) == nil && o.OnPass != nil {
			o.OnPass(p)
		}
	}
	for {
		select {
		case <-dctx.Done():
			return
		case <-kick:
		}
		if s.serviceDone(ctx) != nil || (o.Folder == "" && s.SyncFolder(ctx) != dir) {
			return
		}
		if !s.SyncNeeded(ctx, dir) {
			// What an idle pass would report, without holding the
			// session while the folder is read.
			report(SyncPass{At: s.v.now(), Folder: dir, Idle: true})
			continue
		}
		rep, err := s.Sync(ctx, dir)
		if errors.Is(err, ErrLocked) {
			return
		}
		report(SyncPass{At: s.v.now(), Folder: dir, Report: rep, Err: err})
	}
}

// ServeBackups runs the daily backup: it asks at once, then every
// `every` (an hour when zero), whether a scheduled backup is due and
// runs it (RunScheduledBackup, which records a failure for the Backups
// screen and the Security Center). onDone, when not nil, hears each
// check's outcome, except those cut short by the end. It returns
// ErrLocked when the session locks, and the context's error when ctx
// ends.
func (s *Session) ServeBackups(ctx context.Context, every time.Duration, onDone func(ran bool, err error)) error {
	if every <= 0 {
		every = time.Hour
	}
	ctx, cancel := s.untilLocked(ctx)
	defer cancel()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.serviceDone(ctx); err != nil {
			return err
		}
		ran, err := s.RunScheduledBackup(ctx, nil)
		if done := s.serviceDone(ctx); done != nil {
			return done
		}
		if onDone != nil {
			onDone(ran, err)
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}
