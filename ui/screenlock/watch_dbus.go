//go:build linux

package screenlock

import (
	"context"
	"os"
	"time"

	"github.com/godbus/dbus/v5"
)

// The D-Bus names heard.
const (
	screenSaverIface      = "org.freedesktop.ScreenSaver"
	gnomeScreenSaverIface = "org.gnome.ScreenSaver"
	activeChanged         = "ActiveChanged"

	login1Dest          = "org.freedesktop.login1"
	login1Manager       = "/org/freedesktop/login1"
	login1ManagerIface  = "org.freedesktop.login1.Manager"
	login1SessionIface  = "org.freedesktop.login1.Session"
	propertiesIface     = "org.freedesktop.DBus.Properties"
	propertiesChanged   = "PropertiesChanged"
	login1LockSignal    = "Lock"
	login1ActiveProp    = "Active"
	login1LockedHintKey = "LockedHint"
)

// askWithin bounds each question to logind at start.
const askWithin = 2 * time.Second

// Watch calls lock, on a goroutine of its own, each time the system says
// this user's session was locked or switched away from, until ctx ends.
// It returns at once.
func Watch(ctx context.Context, lock func()) {
	go func() {
		var session, system *dbus.Conn
		if c, err := dbus.ConnectSessionBus(dbus.WithContext(ctx)); err == nil {
			session = c
		}
		var self dbus.ObjectPath
		if c, err := dbus.ConnectSystemBus(dbus.WithContext(ctx)); err == nil {
			if self = ownSession(ctx, c); self != "" {
				system = c
			} else {
				c.Close()
			}
		}
		watch(ctx, session, system, self, lock)
	}()
}

// ownSession asks logind which session this process belongs to: by
// process id, else by $XDG_SESSION_ID, else logind's "auto" (the caller's
// graphical session). It returns "" when logind does not say.
func ownSession(ctx context.Context, c *dbus.Conn) dbus.ObjectPath {
	m := c.Object(login1Dest, login1Manager)
	ask := func(method string, arg any) dbus.ObjectPath {
		ctx, cancel := context.WithTimeout(ctx, askWithin)
		defer cancel()
		var p dbus.ObjectPath
		if err := m.CallWithContext(ctx, login1ManagerIface+"."+method, 0, arg).Store(&p); err != nil || !p.IsValid() {
			return ""
		}
		return p
	}
	if p := ask("GetSessionByPID", uint32(os.Getpid())); p != "" {
		return p
	}
	if id := os.Getenv("XDG_SESSION_ID"); id != "" {
		if p := ask("GetSession", id); p != "" {
			return p
		}
	}
	return ask("GetSession", "auto")
}

// watch listens on session (the screen saver's signals) and on system
// (logind's, for the session at self), either of which may be nil, and
// calls lock for each signal that locks, until ctx ends; then it closes
// both.
func watch(ctx context.Context, session, system *dbus.Conn, self dbus.ObjectPath, lock func()) {
	if session != nil {
		defer session.Close()
	}
	if system != nil {
		defer system.Close()
	}
	fromSession, fromSystem := subscribe(ctx, session, system, self)
	deliver(ctx, fromSession, fromSystem, self, lock)
}

// subscribe asks the buses for the signals that may lock and returns a
// channel for each connection that has them (nil for none): a connection
// closes its channels when it ends.
func subscribe(ctx context.Context, session, system *dbus.Conn, self dbus.ObjectPath) (fromSession, fromSystem chan *dbus.Signal) {
	if session != nil {
		ok := false
		for _, iface := range []string{screenSaverIface, gnomeScreenSaverIface} {
			if session.AddMatchSignalContext(ctx, dbus.WithMatchInterface(iface), dbus.WithMatchMember(activeChanged)) == nil {
				ok = true
			}
		}
		if ok {
			fromSession = make(chan *dbus.Signal, 16)
			session.Signal(fromSession)
		}
	}
	if system != nil && self != "" {
		errLock := system.AddMatchSignalContext(ctx, dbus.WithMatchObjectPath(self),
			dbus.WithMatchInterface(login1SessionIface), dbus.WithMatchMember(login1LockSignal))
		errProps := system.AddMatchSignalContext(ctx, dbus.WithMatchObjectPath(self),
			dbus.WithMatchInterface(propertiesIface), dbus.WithMatchMember(propertiesChanged),
			dbus.WithMatchArg(0, login1SessionIface))
		if errLock == nil || errProps == nil {
			fromSystem = make(chan *dbus.Signal, 16)
			system.Signal(fromSystem)
		}
	}
	return fromSession, fromSystem
}

// deliver calls lock for each signal on the channels that locks, until
// ctx ends or both channels are closed.
func deliver(ctx context.Context, fromSession, fromSystem chan *dbus.Signal, self dbus.ObjectPath, lock func()) {
	for fromSession != nil || fromSystem != nil {
		var s *dbus.Signal
		var ok bool
		select {
		case <-ctx.Done():
			return
		case s, ok = <-fromSession:
			if !ok {
				fromSession = nil
				continue
			}
		case s, ok = <-fromSystem:
			if !ok {
				fromSystem = nil
				continue
			}
		}
		if signalLocks(s, self) {
			lock()
		}
	}
}

// signalLocks reports whether s says the session locked or was switched
// away from: the screen saver turned on, logind's Lock for the session at
// self, or that session turning inactive or locked.
func signalLocks(s *dbus.Signal, self dbus.ObjectPath) bool {
	switch s.Name {
	case screenSaverIface + "." + activeChanged, gnomeScreenSaverIface + "." + activeChanged:
		on, ok := arg[bool](s, 0)
		return ok && on
	case login1SessionIface + "." + login1LockSignal:
		return self != "" && s.Path == self
	case propertiesIface + "." + propertiesChanged:
		if self == "" || s.Path != self {
			return false
		}
		if iface, _ := arg[string](s, 0); iface != login1SessionIface {
			return false
		}
		changed, _ := arg[map[string]dbus.Variant](s, 1)
		if v, ok := changed[login1ActiveProp]; ok {
			if active, ok := v.Value().(bool); ok && !active {
				return true
			}
		}
		if v, ok := changed[login1LockedHintKey]; ok {
			if locked, ok := v.Value().(bool); ok && locked {
				return true
			}
		}
	}
	return false
}

// arg is s's i-th argument as a T, if it is one.
func arg[T any](s *dbus.Signal, i int) (T, bool) {
	var zero T
	if i >= len(s.Body) {
		return zero, false
	}
	v, ok := s.Body[i].(T)
	return v, ok
}
