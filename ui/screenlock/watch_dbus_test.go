//go:build linux

package screenlock

import (
	"bufio"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

const self = dbus.ObjectPath("/org/freedesktop/login1/session/_32")

// Which D-Bus signals lock: the screen saver turning on (either name),
// logind's Lock for this session, and this session turning inactive or
// locked; not the screen saver turning off, another session's signals,
// other properties, or anything when this session is unknown.
func TestSignalLocks(t *testing.T) {
	other := dbus.ObjectPath("/org/freedesktop/login1/session/c2")
	props := func(path dbus.ObjectPath, iface string, changed map[string]any) *dbus.Signal {
		m := map[string]dbus.Variant{}
		for k, v := range changed {
			m[k] = dbus.MakeVariant(v)
		}
		return &dbus.Signal{Path: path, Name: propertiesIface + "." + propertiesChanged, Body: []any{iface, m, []string{}}}
	}
	for _, c := range []struct {
		name string
		s    *dbus.Signal
		self dbus.ObjectPath
		want bool
	}{
		{"screen saver on", &dbus.Signal{Path: "/ScreenSaver", Name: "org.freedesktop.ScreenSaver.ActiveChanged", Body: []any{true}}, "", true},
		{"GNOME screen saver on", &dbus.Signal{Path: "/org/gnome/ScreenSaver", Name: "org.gnome.ScreenSaver.ActiveChanged", Body: []any{true}}, self, true},
		{"screen saver off", &dbus.Signal{Name: "org.freedesktop.ScreenSaver.ActiveChanged", Body: []any{false}}, self, false},
		{"screen saver, no argument", &dbus.Signal{Name: "org.freedesktop.ScreenSaver.ActiveChanged"}, self, false},
		{"screen saver, wrong type", &dbus.Signal{Name: "org.freedesktop.ScreenSaver.ActiveChanged", Body: []any{"true"}}, self, false},
		{"logind Lock", &dbus.Signal{Path: self, Name: "org.freedesktop.login1.Session.Lock"}, self, true},
		{"logind Lock, other session", &dbus.Signal{Path: other, Name: "org.freedesktop.login1.Session.Lock"}, self, false},
		{"logind Lock, own session unknown", &dbus.Signal{Path: self, Name: "org.freedesktop.login1.Session.Lock"}, "", false},
		{"logind Unlock", &dbus.Signal{Path: self, Name: "org.freedesktop.login1.Session.Unlock"}, self, false},
		{"session inactive", props(self, login1SessionIface, map[string]any{"Active": false}), self, true},
		{"session active", props(self, login1SessionIface, map[string]any{"Active": true}), self, false},
		{"session locked hint", props(self, login1SessionIface, map[string]any{"LockedHint": true}), self, true},
		{"session unlocked hint", props(self, login1SessionIface, map[string]any{"LockedHint": false, "IdleHint": true}), self, false},
		{"other session inactive", props(other, login1SessionIface, map[string]any{"Active": false}), self, false},
		{"other interface", props(self, "org.freedesktop.login1.User", map[string]any{"Active": false}), self, false},
		{"name acquired", &dbus.Signal{Path: "/org/freedesktop/DBus", Name: "org.freedesktop.DBus.NameAcquired", Body: []any{":1.4"}}, self, false},
	} {
		if got := signalLocks(c.s, c.self); got != c.want {
			t.Errorf("%s: locks %v, want %v", c.name, got, c.want)
		}
	}
}

// privateBus starts a D-Bus daemon of the test's own and returns its
// address; the test is skipped where dbus-daemon is not installed.
func privateBus(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is not installed (Debian: apt-get install dbus): the D-Bus lock signals are not tested")
	}
	cmd := exec.Command(bin, "--session", "--nofork", "--nopidfile", "--print-address=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
	}()
	select {
	case addr := <-line:
		if addr == "" {
			t.Fatal("dbus-daemon printed no address")
		}
		return addr
	case <-time.After(10 * time.Second):
		t.Fatal("dbus-daemon did not start")
	}
	return ""
}

func connect(t *testing.T, addr string) *dbus.Conn {
	t.Helper()
	c, err := dbus.Connect(addr)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Through a real bus (a private daemon standing for both the session and
// the system bus), each signal that locks reaches lock once; the
// screen saver turning off and another session's Lock do not.
func TestBusSignalsLock(t *testing.T) {
	addr := privateBus(t)
	session, system, emitter := connect(t, addr), connect(t, addr), connect(t, addr)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fromSession, fromSystem := subscribe(ctx, session, system, self)
	if fromSession == nil || fromSystem == nil {
		t.Fatal("no subscription")
	}
	locks := make(chan struct{}, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		deliver(ctx, fromSession, fromSystem, self, func() { locks <- struct{}{} })
	}()
	emit := func(path dbus.ObjectPath, name string, body ...any) {
		t.Helper()
		if err := emitter.Emit(path, name, body...); err != nil {
			t.Fatalf("emit %s: %v", name, err)
		}
	}
	waitLock := func(what string) {
		t.Helper()
		select {
		case <-locks:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s did not lock", what)
		}
	}
	inactive := map[string]dbus.Variant{"Active": dbus.MakeVariant(false)}

	// Signals that do not lock go first, on each connection, so a wrong
	// lock would be counted before the right ones.
	emit("/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver.ActiveChanged", false)
	emit("/org/freedesktop/login1/session/c2", "org.freedesktop.login1.Session.Lock")
	emit("/org/freedesktop/login1/session/c2", "org.freedesktop.DBus.Properties.PropertiesChanged", login1SessionIface, inactive, []string{})

	emit("/org/freedesktop/ScreenSaver", "org.freedesktop.ScreenSaver.ActiveChanged", true)
	waitLock("org.freedesktop.ScreenSaver ActiveChanged(true)")
	emit("/org/gnome/ScreenSaver", "org.gnome.ScreenSaver.ActiveChanged", true)
	waitLock("org.gnome.ScreenSaver ActiveChanged(true)")
	emit(self, "org.freedesktop.login1.Session.Lock")
	waitLock("logind's Lock")
	emit(self, "org.freedesktop.DBus.Properties.PropertiesChanged", login1SessionIface, inactive, []string{})
	waitLock("the session turning inactive")
	// Once a lock from each connection's last signal is in, every earlier
	// signal was handled (each connection keeps its order).
	emit("/ScreenSaver", "org.freedesktop.ScreenSaver.ActiveChanged", true)
	emit(self, "org.freedesktop.login1.Session.Lock")
	waitLock("the last screen saver signal")
	waitLock("the last Lock")
	if n := len(locks); n != 0 {
		t.Fatalf("%d locks too many", n)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the watch did not end with its context")
	}
}

// Watch with buses that cannot be reached returns at once and never
// locks.
func TestWatchWithoutBusesDoesNothing(t *testing.T) {
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	locked := make(chan struct{}, 1)
	Watch(ctx, func() { locked <- struct{}{} })
	select {
	case <-locked:
		t.Fatal("locked without a bus")
	case <-time.After(50 * time.Millisecond):
	}
}
