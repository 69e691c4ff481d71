package devices

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/clinicvault/clinicvault/ui/kit"
)

var (
	// watchPoll is how often the watcher looks at the folder when
	// file-system notifications do not arrive (network shares).
	watchPoll = time.Second
	// settingPoll is how often the watcher asks whether a sync folder has
	// been chosen, while none is.
	settingPoll = 2 * time.Second
)

// StartWatcher keeps this computer in step with the shared folder while
// the session is open. Once a sync folder is set (s.SyncFolder), it runs
// s.Sync at once and then whenever the folder changes (file-system
// notifications, and a look every second, since network shares do not
// always notify); passes never overlap, and a burst of changes makes one
// pass. A folder chosen or changed later is picked up within seconds.
//
// onReport, when not nil, is called after every pass with its report and
// error, on the watcher's goroutine: the caller wraps UI updates in
// fyne.Do. An unplugged folder gives an error wrapping
// cvsync.ErrUnreachable at every pass until it is back. Passes cut short
// by stop or by the session locking are not reported.
//
// The watcher ends when stop is called or the session locks.
func StartWatcher(s *app.Session, onReport func(app.SyncReport, error)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	stop = func() { once.Do(cancel) }
	go func() {
		s.OnLock(stop)
		if s.Locked() {
			stop()
		}
		w := &watcher{s: s, onReport: onReport}
		w.run(ctx)
	}()
	return stop
}

type watcher struct {
	s        *app.Session
	onReport func(app.SyncReport, error)
}

// done reports whether the watcher must end.
func (w *watcher) done(ctx context.Context) bool {
	return ctx.Err() != nil || w.s.Locked()
}

func (w *watcher) run(ctx context.Context) {
	for !w.done(ctx) {
		dir := w.s.SyncFolder(ctx)
		if dir == "" {
			select {
			case <-ctx.Done():
			case <-time.After(settingPoll):
			}
			continue
		}
		w.watch(ctx, dir)
	}
}

// watch syncs through dir until the session's folder is another one or
// the watcher ends.
func (w *watcher) watch(ctx context.Context, dir string) {
	dctx, cancel := context.WithCancel(ctx)
	kick := make(chan struct{}, 1)
	kick <- struct{}{} // once at start
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		cvsync.Folder{Dir: dir}.Watch(dctx, watchPoll, func() {
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
	for {
		select {
		case <-dctx.Done():
			return
		case <-kick:
		}
		if w.done(ctx) || w.s.SyncFolder(ctx) != dir {
			return
		}
		if !w.s.SyncNeeded(ctx, dir) {
			// Nothing to send or receive: what an idle pass would report,
			// without holding the session while the folder is read.
			if !w.done(ctx) {
				publish(w.s, pass{at: now(), dir: dir, auto: true})
			}
			continue
		}
		rep, err := w.s.Sync(ctx, dir)
		if w.done(ctx) || errors.Is(err, app.ErrLocked) {
			return
		}
		publish(w.s, pass{at: now(), dir: dir, rep: rep, err: err, auto: true})
		if w.onReport != nil {
			w.onReport(rep, err)
		}
	}
}

// pass is one sync pass's outcome.
type pass struct {
	at   time.Time
	dir  string
	rep  app.SyncReport
	err  error
	auto bool // by the watcher, not "Sync now"
}

// hub passes every sync pass's outcome to the Sync screens showing the
// same session, and keeps the last one for a screen opened later. A
// session's entries go when it locks.
var hub = struct {
	mu     sync.Mutex
	last   map[*app.Session]pass
	subs   map[*app.Session]map[int]func(pass)
	hooked map[*app.Session]bool
	next   int
}{last: map[*app.Session]pass{}, subs: map[*app.Session]map[int]func(pass){}, hooked: map[*app.Session]bool{}}

// hook forgets s's entries when it locks (once per session). It may wait
// for the session, so callers on the UI thread run it in a goroutine.
func hook(s *app.Session) {
	hub.mu.Lock()
	if hub.hooked[s] {
		hub.mu.Unlock()
		return
	}
	hub.hooked[s] = true
	hub.mu.Unlock()
	s.OnLock(func() { forget(s) })
	if s.Locked() {
		forget(s)
	}
}

func forget(s *app.Session) {
	hub.mu.Lock()
	delete(hub.last, s)
	delete(hub.subs, s)
	delete(hub.hooked, s)
	hub.mu.Unlock()
}

// publish records p as s's last pass and tells the screens, on the UI
// thread.
func publish(s *app.Session, p pass) {
	go hook(s)
	hub.mu.Lock()
	hub.last[s] = p
	var fs []func(pass)
	for _, f := range hub.subs[s] {
		fs = append(fs, f)
	}
	hub.mu.Unlock()
	for _, f := range fs {
		kit.Post(func() { f(p) })
	}
}

// subscribe calls f on the UI thread after each of s's passes until
// cancel is called.
func subscribe(s *app.Session, f func(pass)) (cancel func()) {
	go hook(s)
	hub.mu.Lock()
	defer hub.mu.Unlock()
	id := hub.next
	hub.next++
	if hub.subs[s] == nil {
		hub.subs[s] = map[int]func(pass){}
	}
	hub.subs[s][id] = f
	return func() {
		hub.mu.Lock()
		delete(hub.subs[s], id)
		hub.mu.Unlock()
	}
}

// lastPass returns s's last pass, if there was one.
func lastPass(s *app.Session) (pass, bool) {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	p, ok := hub.last[s]
	return p, ok
}
