package ui

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/assets"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/screenlock"
)

// AppID is ClinicVault's application ID, as FyneApp.toml gives it to
// fyne package (the macOS bundle identifier, the Windows and Linux
// package name); Fyne keeps the window's preferences under it.
const AppID = "org.clinicvault.app"

// Run opens ClinicVault's window on the vault in v and runs the event loop
// until the window closes. The window opens at the size it had when it
// last closed on this folder (and, on Windows, where it was); it locks
// the session when the system locks the computer or switches user
// (package screenlock). serve, when not nil, is started with the function
// that brings the window forward for a second start of ClinicVault
// (instance.Holder.Serve).
func Run(v *app.Vault, serve func(raise func())) {
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("Icon.png", assets.Icon()))
	g := newGUI(a, v)
	g.startServices = true
	g.restoreWindow()
	a.Lifecycle().SetOnStarted(func() {
		g.placeWindow()
		screenlock.Watch(g.ctx, func() { g.post(g.lockForSystem) })
		if serve != nil {
			serve(g.raiseFromElsewhere)
		}
	})
	// Ended by the system (SIGTERM, Ctrl+C) the window is not closed, but
	// its size is still worth keeping.
	a.Lifecycle().SetOnStopped(g.saveWindowStopped)
	g.win.ShowAndRun()
}

// NewWindow builds ClinicVault's main window for the vault in v: the
// first-run wizard when the folder holds no vault yet, the sign-in screen
// otherwise. It also applies ClinicVault's theme to a.
func NewWindow(a fyne.App, v *app.Vault) fyne.Window {
	g := newGUI(a, v)
	g.startServices = true
	return g.win
}

// idleCheckEvery is how often the idle-lock ticker asks the session.
const idleCheckEvery = 15 * time.Second

// The window's shortcuts: Ctrl (Cmd on macOS) with L locks, F finds a
// patient, N registers a new patient, and Page Down and Page Up move
// between a chart's tabs.
var (
	lockShortcut       = &desktop.CustomShortcut{KeyName: fyne.KeyL, Modifier: fyne.KeyModifierShortcutDefault}
	findShortcut       = &desktop.CustomShortcut{KeyName: fyne.KeyF, Modifier: fyne.KeyModifierShortcutDefault}
	newPatientShortcut = &desktop.CustomShortcut{KeyName: fyne.KeyN, Modifier: fyne.KeyModifierShortcutDefault}
	nextTabShortcut    = &desktop.CustomShortcut{KeyName: fyne.KeyPageDown, Modifier: fyne.KeyModifierShortcutDefault}
	prevTabShortcut    = &desktop.CustomShortcut{KeyName: fyne.KeyPageUp, Modifier: fyne.KeyModifierShortcutDefault}
)

// gui is the state of one ClinicVault window. Its fields are used on the UI
// thread only, except where noted.
type gui struct {
	app fyne.App
	win fyne.Window
	v   *app.Vault
	ctx context.Context

	cancel context.CancelFunc

	// session is the signed-in session, nil when nobody is signed in.
	session *app.Session
	// practice is the practice's name, cached for headings.
	practice string
	// dialogs are the open dialogs, newest last; Esc hides the newest.
	dialogs []dialog.Dialog
	// enter holds each dialog's default action, which Enter runs when
	// no field has the focus (a confirmation has none).
	enter map[dialog.Dialog]func()

	// background starts the backup scheduler, the sync watcher and the
	// reminders after sign-in (off in most tests).
	startServices bool

	// idleEvery is the idle ticker's period (tests shorten it).
	idleEvery time.Duration
	// clipboardFor is how long a secret put on the clipboard (an
	// authenticator key) stays there; clipSecret is that secret, cleared
	// after clipboardFor and at every lock if the clipboard still holds it.
	clipboardFor time.Duration
	clipSecret   string
	// drafts keep unsaved form text across a lock, in memory only, per
	// person and form; liveDrafts read the open forms' text.
	drafts     map[string][]string
	liveDrafts map[string]func() []string
	// stopIdle stops the running idle ticker, if any.
	stopIdle func()

	// rememberPlace saves the window's size and place when it closes
	// (Run sets it; tests mostly do not); place is the one it opened
	// with.
	rememberPlace bool
	place         app.WindowPlace

	// pending counts background work whose result has not yet reached
	// the UI; tests wait for it.
	pending atomic.Int64
	// queue, when not nil, receives the UI work of other goroutines
	// instead of fyne.Do. Tests set it and run the work themselves: the
	// test driver's fyne.Do runs it at once on the calling goroutine,
	// which would race with the test's own use of the widgets.
	queue chan func()

	// The screen now shown, for tests.
	screen   string
	wizard   *wizard
	signIn   *signInScreen
	recovery *recoveryScreen
	reenroll *reenrollScreen
	shell    *shell
}

func newGUI(a fyne.App, v *app.Vault) *gui {
	a.Settings().SetTheme(kit.NewTheme())
	kit.SafeFiles(app.NewReplacement)
	ctx, cancel := context.WithCancel(context.Background())
	g := &gui{app: a, v: v, ctx: ctx, cancel: cancel, idleEvery: idleCheckEvery, clipboardFor: 30 * time.Second,
		drafts: map[string][]string{}, liveDrafts: map[string]func() []string{}}
	g.win = a.NewWindow("ClinicVault")
	g.win.SetMaster()
	g.win.SetPadded(true)
	g.win.Resize(defaultWindowSize)
	g.win.CenterOnScreen()

	c := g.win.Canvas()
	for _, sc := range []*desktop.CustomShortcut{lockShortcut, findShortcut, newPatientShortcut, nextTabShortcut, prevTabShortcut} {
		c.AddShortcut(sc, func(s fyne.Shortcut) {
			g.activity()
			g.shortcut(s)
		})
	}
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		g.activity()
		switch ev.Name {
		case fyne.KeyEscape:
			g.escape()
		case fyne.KeyReturn, fyne.KeyEnter:
			g.enterDefault()
		}
	})
	c.SetOnTypedRune(func(rune) { g.activity() })
	g.win.SetOnClosed(g.close)

	if v.Exists() {
		g.showSignIn("")
	} else {
		g.showWizard()
	}
	return g
}

// close saves the window's place (see restoreWindow), locks any open
// session and stops background work.
func (g *gui) close() {
	g.saveWindow()
	if s := g.session; s != nil {
		g.session = nil // no sign-in screen for a closed window
		s.Lock(context.Background())
	}
	if g.stopIdle != nil {
		g.stopIdle()
	}
	g.cancel()
}

// setScreen replaces the window content, closing any dialogs, and focuses
// first (when not nil).
func (g *gui) setScreen(name string, content fyne.CanvasObject, first fyne.Focusable) {
	g.closeDialogs()
	g.screen = name
	g.win.SetContent(newActivityCatcher(g, content))
	if first != nil {
		g.focus(first)
	}
}

// post runs f on the UI thread; it may be called from any goroutine.
func (g *gui) post(f func()) {
	if g.queue != nil {
		g.queue <- f
		return
	}
	fyne.Do(f)
}

// focus gives f the keyboard focus once the current input event is
// handled: a Space that pressed a button would otherwise also be typed
// into the field the button's action focuses.
func (g *gui) focus(f fyne.Focusable) {
	fyne.Do(func() { g.win.Canvas().Focus(f) })
}

// background runs work off the UI thread, then done on it.
func (g *gui) background(work func(), done func()) {
	g.pending.Add(1)
	go func() {
		work()
		g.post(func() {
			defer g.pending.Add(-1)
			done()
		})
	}()
}

// now is the vault's clock.
func (g *gui) now() time.Time {
	if g.v.Now != nil {
		return g.v.Now()
	}
	return time.Now()
}

// activity tells the session the user is at the keyboard or mouse.
func (g *gui) activity() {
	if s := g.session; s != nil {
		s.Touch()
	}
}

// act wraps a button or selection action so it counts as activity.
func (g *gui) act(f func()) func() {
	return func() {
		g.activity()
		f()
	}
}

// showDialog shows d and lets Esc hide it.
func (g *gui) showDialog(d dialog.Dialog) {
	g.dialogs = append(g.dialogs, d)
	d.SetOnClosed(func() { g.forgetDialog(d) })
	d.Show()
}

func (g *gui) forgetDialog(d dialog.Dialog) {
	delete(g.enter, d)
	for i := len(g.dialogs) - 1; i >= 0; i-- {
		if g.dialogs[i] == d {
			g.dialogs = append(g.dialogs[:i], g.dialogs[i+1:]...)
			return
		}
	}
}

// setDefault makes action what Enter does in d when no field has focus.
func (g *gui) setDefault(d dialog.Dialog, action func()) {
	if g.enter == nil {
		g.enter = map[dialog.Dialog]func(){}
	}
	g.enter[d] = action
}

// enterDefault runs the newest dialog's default action, if it has one.
func (g *gui) enterDefault() bool {
	if len(g.dialogs) == 0 {
		return false
	}
	if f := g.enter[g.dialogs[len(g.dialogs)-1]]; f != nil {
		f()
		return true
	}
	return false
}

// escape hides the newest dialog and reports whether there was one.
func (g *gui) escape() bool {
	if len(g.dialogs) == 0 {
		return false
	}
	g.dialogs[len(g.dialogs)-1].Hide()
	return true
}

// closeDialogs hides every open dialog (their callbacks see a cancel).
func (g *gui) closeDialogs() {
	for len(g.dialogs) > 0 {
		n := len(g.dialogs)
		g.dialogs[n-1].Hide()
		if len(g.dialogs) == n { // not one of ours after all
			g.dialogs = g.dialogs[:n-1]
		}
	}
}

// shortcut handles ClinicVault's own shortcuts typed in a focused field and
// reports whether it did.
func (g *gui) shortcut(s fyne.Shortcut) bool {
	name := s.ShortcutName()
	if name == lockShortcut.ShortcutName() {
		g.lockNow()
		return true
	}
	sh := g.shell
	if g.screen != "shell" || sh == nil || g.session == nil {
		return false
	}
	switch name {
	case findShortcut.ShortcutName():
		if len(g.dialogs) == 0 {
			sh.findPatient()
		}
		return true
	case newPatientShortcut.ShortcutName():
		if len(g.dialogs) == 0 {
			sh.newPatient()
		}
		return true
	case nextTabShortcut.ShortcutName(), prevTabShortcut.ShortcutName():
		if len(g.dialogs) == 0 && sh.current == "Chart" && sh.chart != nil {
			step := 1
			if name == prevTabShortcut.ShortcutName() {
				step = -1
			}
			sh.chart.cycleTab(step)
		}
		return true
	}
	return false
}

// copySecret puts a secret on the clipboard for clipboardFor, KeePassXC's
// habit: then, and at every lock, it is cleared unless something else was
// copied meanwhile.
func (g *gui) copySecret(secret string) {
	g.app.Clipboard().SetContent(secret)
	g.clipSecret = secret
	time.AfterFunc(g.clipboardFor, func() { g.post(g.clearSecret) })
}

// clearSecret empties the clipboard if it still holds the secret
// copySecret put there.
func (g *gui) clearSecret() {
	if g.clipSecret == "" {
		return
	}
	if g.app.Clipboard().Content() == g.clipSecret {
		g.app.Clipboard().SetContent("")
	}
	g.clipSecret = ""
}

// lockNow locks the signed-in session; the session's lock hook then shows
// the sign-in screen.
func (g *gui) lockNow() {
	s := g.session
	if s == nil {
		return
	}
	if err := s.Lock(g.ctx); err != nil {
		// The keys are wiped and the screen changes anyway; the
		// audit entry for the lock could not be written.
		fyne.LogError("lock", err)
	}
}

// startSession makes s the signed-in session: it registers the lock hook
// and starts the idle ticker.
func (g *gui) startSession(s *app.Session) {
	g.session = s
	g.practice = s.Practice()
	name := s.User().Name
	stop := make(chan struct{})
	var once sync.Once
	g.stopIdle = func() { once.Do(func() { close(stop) }) }
	stopIdle := g.stopIdle
	s.OnLock(func() {
		// Runs on whichever goroutine locked the session.
		stopIdle()
		g.post(func() {
			g.clearSecret()
			if g.session != s {
				return
			}
			g.captureDrafts()
			g.session = nil
			g.showSignIn(name)
		})
	})
	every := g.idleEvery
	ctx := g.ctx
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if s.Locked() {
					return
				}
				if s.LockIfIdle(ctx) {
					// Queued after the lock hook's screen change.
					after := s.IdleLockAfter()
					g.post(func() {
						if g.screen == "signin" && g.signIn != nil {
							g.signIn.status.Say(widget.MediumImportance, "ClinicVault locked itself after "+
								kit.Duration(after)+" without activity. Sign in to continue.")
						}
					})
					return
				}
			}
		}
	}()
}
