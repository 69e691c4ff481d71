package app

import (
	"context"
	"errors"
	"sync"
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
	Folder string // the folder of the pass ("" for a relay's)
	Relay  string // the relay's address ("" for a folder's)
	Report SyncReport
	Err    error // wraps cvsync.ErrUnreachable while the folder or relay is away
	// Idle: there was nothing to send or receive, so the folder was only
	// looked at (no pass ran, nothing was written or audited).
	Idle bool
}

// ReplicateOptions tune Replicate.
type ReplicateOptions struct {
	// Folder is the sync folder to follow, Relay the relay. When both
	// are empty, Replicate follows the session's settings (SyncFolder,
	// SyncRelay), waiting while none is chosen and moving to a new one
	// within seconds of its being chosen; given one, it follows only it.
	Folder string
	Relay  RelayLink
	// Poll is how often the folder is looked at when file-system
	// notifications do not arrive (network shares), and the relay when
	// nothing was heard from it; 1 s when zero.
	Poll time.Duration
	// SettingPoll is how often the setting is read while no folder is
	// chosen; 2 s when zero.
	SettingPoll time.Duration
	// OnPass, when not nil, is called after every pass and every idle
	// look, on one of Replicate's goroutines (one at a time). Passes
	// cut short by the end are not reported.
	OnPass func(SyncPass)
}

// Replicate keeps this computer in step with the sync folder and the
// relay while the session is open: a pass at once, then whenever the
// folder changes or the relay hears of a change (or at every Poll).
// Passes never overlap, and a burst of changes makes one pass. A place
// that cannot be reached is tried again after 1, 2, 4… up to 30 seconds.
// It is not a person's activity: the idle lock does not see it.
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
	var reportMu sync.Mutex
	onPass := o.OnPass
	o.OnPass = func(p SyncPass) {
		reportMu.Lock()
		defer reportMu.Unlock()
		if s.serviceDone(ctx) == nil && onPass != nil {
			onPass(p)
		}
	}
	follow := o.Folder == "" && o.Relay.IsZero()
	var wg sync.WaitGroup
	if follow || o.Folder != "" {
		fixed := Place{Folder: o.Folder}
		wg.Go(func() {
			s.follow(ctx, o, func() Place {
				if !follow {
					return fixed
				}
				return FolderPlace(s.SyncFolder(ctx))
			})
		})
	}
	if follow || !o.Relay.IsZero() {
		fixed := RelayPlace(o.Relay)
		wg.Go(func() {
			s.follow(ctx, o, func() Place {
				if !follow {
					return fixed
				}
				return RelayPlace(s.SyncRelay(ctx))
			})
		})
	}
	wg.Wait()
	if err := s.serviceDone(ctx); err != nil {
		return err
	}
	return ctx.Err()
}

// follow syncs through the place where() names, moving when it names
// another, until the loop ends.
func (s *Session) follow(ctx context.Context, o ReplicateOptions, where func() Place) {
	for s.serviceDone(ctx) == nil {
		p := where()
		if p.String() == "" {
			select {
			case <-ctx.Done():
			case <-time.After(o.SettingPoll):
			}
			continue
		}
		s.replicateThrough(ctx, p, where, o)
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

// backoff is how long a place that could not be reached is left alone:
// 1 s, doubling, up to 30 s.
func backoff(failures int) time.Duration {
	d := time.Second << min(failures-1, 5)
	return min(d, 30*time.Second)
}

// replicateThrough syncs through p until where() names another place or
// the loop ends.
func (s *Session) replicateThrough(ctx context.Context, p Place, where func() Place, o ReplicateOptions) {
	pass := func(sp SyncPass) SyncPass {
		sp.At = s.v.now()
		if p.IsRelay() {
			sp.Relay = p.Relay.URL
		} else {
			sp.Folder = p.Folder
		}
		return sp
	}
	f, err := s.transport(ctx, p)
	if err != nil {
		if errors.Is(err, ErrLocked) {
			return
		}
		o.OnPass(pass(SyncPass{Err: err}))
		select { // not reached: tried again in a while (the relay may come back)
		case <-ctx.Done():
		case <-time.After(o.Poll * 5):
		}
		return
	}
	dctx, cancel := context.WithCancel(ctx)
	kick := make(chan struct{}, 1)
	kick <- struct{}{} // once at start
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		f.Watch(dctx, o.Poll, func() {
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
	// A change made here goes out at once (not at the next Poll).
	local := make(chan struct{}, 1)
	defer s.local.listen(local)()
	failures := 0
	var retryAt time.Time
	for {
		select {
		case <-dctx.Done():
			return
		case <-kick:
		case <-local:
			// Told while the change's transaction is still open: the
			// session is held until it commits.
			s.mu.Lock()
			s.mu.Unlock() //nolint:staticcheck // an empty critical section: waiting is the point
		}
		if s.serviceDone(ctx) != nil || where() != p {
			return
		}
		if failures > 0 && time.Now().Before(retryAt) && f.Check() != nil {
			continue // still away: tried again after its backoff (a kick comes every Poll)
		}
		if !s.syncNeeded(ctx, f, p) {
			// What an idle pass would report, without holding the
			// session while the folder is read.
			o.OnPass(pass(SyncPass{Idle: true}))
			continue
		}
		rep, err := s.syncThrough(ctx, f, p)
		if errors.Is(err, ErrLocked) {
			return
		}
		if errors.Is(err, cvsync.ErrUnreachable) {
			failures++
			retryAt = time.Now().Add(backoff(failures))
		} else {
			failures = 0
		}
		o.OnPass(pass(SyncPass{Report: rep, Err: err}))
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
