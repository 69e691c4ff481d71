package devices

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/clinicvault/clinicvault/app"
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

// StartWatcher keeps this computer in step with the shared folder and
// the relay while the session is open (app's Session.Replicate: a pass at
// once, then whenever the folder changes or the relay hears of a change;
// a folder or relay chosen later is picked up within seconds), and tells
// the Sync screens about every pass.
//
// onReport, when not nil, is called after every pass that ran with its
// report and error, on the watcher's goroutine: the caller wraps UI
// updates in fyne.Do. The watcher ends when stop is called or the session
// locks.
func StartWatcher(s *app.Session, onReport func(app.SyncReport, error)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	go s.Replicate(ctx, app.ReplicateOptions{Poll: watchPoll, SettingPoll: settingPoll, OnPass: func(p app.SyncPass) {
		publish(s, pass{at: p.At, dir: p.Folder, relay: p.Relay, rep: p.Report, err: p.Err, auto: true})
		if !p.Idle && onReport != nil {
			onReport(p.Report, p.Err)
		}
	}})
	return cancel
}

// pass is one sync pass's outcome, through a folder or a relay.
type pass struct {
	at    time.Time
	dir   string // the folder ("" for a relay's pass)
	relay string // the relay's address ("" for a folder's pass)
	rep   app.SyncReport
	err   error
	auto  bool // by the watcher, not "Sync now"
}

// place names where the pass went, for the hub.
func (p pass) place() string {
	if p.relay != "" {
		return "relay:" + p.relay
	}
	return "folder:" + p.dir
}

// hub passes every sync pass's outcome to the Sync screens showing the
// same session, and keeps the last one through each place for a screen
// opened later. A session's entries go when it locks.
var hub = struct {
	mu     sync.Mutex
	last   map[*app.Session]map[string]pass
	subs   map[*app.Session]map[int]func(pass)
	hooked map[*app.Session]bool
	next   int
}{last: map[*app.Session]map[string]pass{}, subs: map[*app.Session]map[int]func(pass){}, hooked: map[*app.Session]bool{}}

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

// publish records p as s's last pass through its place and tells the
// screens, on the UI thread.
func publish(s *app.Session, p pass) {
	go hook(s)
	hub.mu.Lock()
	if hub.last[s] == nil {
		hub.last[s] = map[string]pass{}
	}
	hub.last[s][p.place()] = p
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

// lastPasses returns s's last pass through each place, oldest first.
func lastPasses(s *app.Session) []pass {
	hub.mu.Lock()
	defer hub.mu.Unlock()
	var ps []pass
	for _, p := range hub.last[s] {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b pass) int { return a.at.Compare(b.at) })
	return ps
}
