package devices

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/clinicvault/clinicvault/ui/kit/kittest"
)

// stockRelay runs a stock nats-server with JetStream on a free port: the
// relay of a group of practices, no ClinicVault in it. more, when given,
// changes its options.
func stockRelay(t *testing.T, more ...func(*server.Options)) *server.Server {
	t.Helper()
	o := &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true}
	for _, f := range more {
		f(o)
	}
	srv, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// press sends key k to the focused field of w.
func press(t *testing.T, w fyne.Window, k fyne.KeyName) {
	t.Helper()
	f := w.Canvas().Focused()
	if f == nil {
		t.Fatalf("nothing has focus to press %s in", k)
	}
	f.TypedKey(&fyne.KeyEvent{Name: k})
}

// focused fails unless want has the focus in w.
func focused(t *testing.T, w fyne.Window, want fyne.Focusable, name string) {
	t.Helper()
	if got := w.Canvas().Focused(); got != want {
		t.Fatalf("focus is on %T %v, want the %s field", got, got, name)
	}
}

// TestRelayThroughTheSyncScreen: the relay card says "not set"; a relay
// set through the "Relay…" dialog (keyboard only) is synced through at
// once and shows Connected; a patient added on A reaches B, which has no
// folder, through the relay alone; the relay gone, the card says
// Offline; "Stop using the relay" clears it.
func TestRelayThroughTheSyncScreen(t *testing.T) {
	ctx := context.Background()
	f := newPractice(t)
	a := newApp(t)
	shared := sharedFolder(t)
	sa := f.signIn(f.a, adminName, adminPass)
	if err := sa.SetSyncFolder(ctx, shared); err != nil {
		t.Fatal(err)
	}
	b := f.pairDirect(sa, shared, "Laptop", f.clk)
	sb := f.signIn(b, adminName, adminPass)
	if err := sb.SetSyncFolder(ctx, ""); err != nil { // away from the practice: no folder
		t.Fatal(err)
	}

	// A: a folder, no relay.
	winA := newWindow(t, a, "ClinicVault — front desk")
	ya := newSyncScreen(winA, sa)
	show(winA, sa, "Sync", ya.view)
	kittest.Settle(t)
	mustShow(t, winA, "Relay:")
	if ya.relayCard.addr.Text != "not set" || ya.relayCard.state.Visible() {
		t.Fatalf("relay card with no relay: %q, state shown %v", ya.relayCard.addr.Text, ya.relayCard.state.Visible())
	}

	// A: Relay… with the keyboard: type the address, Tab to the
	// fingerprint, Enter saves and syncs through the relay.
	srv := stockRelay(t)
	kittest.Tap(t, winA, "Relay…")
	rd := ya.relayDlg
	if rd == nil {
		t.Fatal("no Relay dialog")
	}
	focused(t, winA, rd.addr, "address")
	if rd.claim.Disabled() {
		t.Fatal("the claim code is disabled for an admin")
	}
	if rd.stopRow.Visible() {
		t.Fatal("Stop using the relay is offered with no relay set")
	}
	kittest.TypeIn(winA, rd.addr, strings.TrimPrefix(srv.ClientURL(), "nats://")) // nats:// is added
	kittest.Shot(t, winA, "sync-relay-dialog")
	winA.Canvas().FocusNext()
	focused(t, winA, rd.fp, "fingerprint")
	winA.Canvas().FocusNext()
	focused(t, winA, rd.claim, "claim code")
	press(t, winA, fyne.KeyReturn)
	kittest.Settle(t)
	if got := sa.SyncRelay(ctx); got.URL != srv.ClientURL() || got.Fingerprint != "" {
		t.Fatalf("relay saved on A: %+v, want %s", got, srv.ClientURL())
	}
	if kittest.FindButton(winA, "Save") != nil {
		t.Fatal("the dialog stays open after saving")
	}
	if ya.lastRelay == nil || ya.lastRelay.err != nil || ya.lastRelay.relay != srv.ClientURL() {
		t.Fatalf("no pass through the relay after saving it: %+v", ya.lastRelay)
	}
	mustShow(t, winA, srv.ClientURL())
	mustShow(t, winA, relayConnected)
	if ya.relayCard.state.Importance != widget.SuccessImportance {
		t.Fatalf("Connected in importance %v", ya.relayCard.state.Importance)
	}

	// A: a patient, then Sync now goes through the folder and the relay,
	// and each result says which.
	if _, _, err := sa.AddPatient(ctx, app.Patient{Given: "Ana", Family: "Silva", DOB: "1980-01-01"}); err != nil {
		t.Fatal(err)
	}
	f.clk.Add(time.Minute)
	kittest.Tap(t, winA, "Sync now")
	if ya.last == nil || ya.last.err != nil || ya.last.dir != shared {
		t.Fatalf("A's pass through the folder: %+v", ya.last)
	}
	// (Sent counts batches written: the folder's pass wrote the
	// patient's, and the relay's pass delivered it.)
	if ya.lastRelay == nil || ya.lastRelay.err != nil || ya.lastRelay.relay != srv.ClientURL() {
		t.Fatalf("A's pass through the relay: %+v", ya.lastRelay)
	}
	if !ya.result.Visible() || !ya.relayResult.Visible() ||
		!strings.HasSuffix(ya.result.Title(), "through the folder") || !strings.HasSuffix(ya.relayResult.Title(), "through the relay") {
		t.Fatalf("results: %q and %q", ya.result.Title(), ya.relayResult.Title())
	}
	kittest.ShotSizes(t, winA, "sync-relay")

	// B: no folder, so the relay alone carries the patient. Set with
	// Enter in the address field.
	winB := newWindow(t, a, "ClinicVault — laptop")
	yb := newSyncScreen(winB, sb)
	show(winB, sb, "Sync", yb.view)
	kittest.Settle(t)
	if !yb.syncNow.Disabled() {
		t.Fatal("Sync now is enabled with neither a folder nor a relay")
	}
	if yb.relayCard.received.Visible() {
		t.Fatal("last change received shown with no relay")
	}
	kittest.Tap(t, winB, "Relay…")
	kittest.TypeIn(winB, yb.relayDlg.addr, srv.ClientURL())
	press(t, winB, fyne.KeyReturn)
	kittest.Settle(t)
	if yb.lastRelay == nil || yb.lastRelay.err != nil || yb.lastRelay.rep.Applied == 0 {
		t.Fatalf("B's pass through the relay: %+v", yb.lastRelay)
	}
	got, err := sb.SearchPatients(ctx, "Silva", 10)
	if err != nil || len(got) != 1 || got[0].Given != "Ana" {
		t.Fatalf("Ana Silva on B through the relay: %v %+v", err, got)
	}
	mustShow(t, winB, relayConnected)
	mustShow(t, winB, "Last change received: at "+clockTime(f.clk.Now())+" (just now)")
	if strings.Contains(yb.relayResult.Title(), "through the") {
		t.Fatalf("a relay-only result names its place: %q", yb.relayResult.Title())
	}
	if yb.syncNow.Disabled() {
		t.Fatal("Sync now is disabled with a relay set")
	}
	if yb.result.Visible() {
		t.Fatalf("B, with a relay and no folder, is asked for a folder: %q", yb.result.Title())
	}
	kittest.ShotSizes(t, winB, "sync-relay-only")

	// The relay goes away: Sync now says Offline.
	srv.Shutdown()
	srv.WaitForShutdown()
	kittest.Tap(t, winB, "Sync now")
	if yb.lastRelay == nil || !errors.Is(yb.lastRelay.err, cvsync.ErrUnreachable) {
		t.Fatalf("B's pass with the relay gone: %+v", yb.lastRelay)
	}
	mustShow(t, winB, relayOffline)
	if yb.relayCard.state.Importance != widget.WarningImportance {
		t.Fatalf("Offline in importance %v", yb.relayCard.state.Importance)
	}
	kittest.ShotSizes(t, winB, "sync-relay-offline")

	// Stop using the relay.
	kittest.Tap(t, winB, "Relay…")
	if yb.relayDlg.addr.Text != srv.ClientURL() {
		t.Fatalf("the dialog does not show the relay set: %q", yb.relayDlg.addr.Text)
	}
	kittest.Tap(t, winB, "Stop using the relay")
	if !sb.SyncRelay(ctx).IsZero() {
		t.Fatalf("the relay is still set: %+v", sb.SyncRelay(ctx))
	}
	if yb.relayCard.addr.Text != "not set" || yb.relayResult.Visible() || !yb.syncNow.Disabled() {
		t.Fatalf("after stopping: card %q, relay result shown %v, Sync now enabled %v",
			yb.relayCard.addr.Text, yb.relayResult.Visible(), !yb.syncNow.Disabled())
	}
	mustShow(t, winB, "This computer no longer syncs through the relay.")
}

// TestRelayDialogKeysAndMistakes: Esc cancels without saving, a bad
// address or fingerprint keeps the dialog open with the cursor in the
// field, and only an admin may give a claim code.
func TestRelayDialogKeysAndMistakes(t *testing.T) {
	ctx := context.Background()
	f := newPractice(t)
	a := newApp(t)
	sa := f.signIn(f.a, adminName, adminPass)
	f.addUser(sa, "Rita Front", app.Receptionist, staffPass)
	sr := f.signIn(f.a, "Rita Front", staffPass)
	w := newWindow(t, a, "ClinicVault")
	y := newSyncScreen(w, sr)
	show(w, sr, "Sync", y.view)
	kittest.Settle(t)

	kittest.Tap(t, w, "Relay…")
	rd := y.relayDlg
	if !rd.claim.Disabled() {
		t.Fatal("a receptionist may type a claim code")
	}
	if hint := rd.form.Items[2].HintText; hint != "Only an admin can claim a new relay." {
		t.Fatalf("the claim code's hint for a receptionist: %q", hint)
	}
	kittest.TypeIn(w, rd.addr, "nats://relay.example:4222")
	w.Canvas().FocusNext()
	focused(t, w, rd.fp, "fingerprint")
	w.Canvas().FocusNext() // the claim code is disabled: skipped
	if w.Canvas().Focused() == rd.claim {
		t.Fatal("Tab stops at the disabled claim code")
	}
	kittest.Shot(t, w, "sync-relay-dialog-receptionist")
	w.Canvas().Focus(rd.addr)
	press(t, w, fyne.KeyEscape)
	kittest.Settle(t)
	if kittest.FindButton(w, "Save") != nil {
		t.Fatal("Esc did not close the dialog")
	}
	if !sr.SyncRelay(ctx).IsZero() {
		t.Fatal("Esc saved the relay")
	}

	// Mistakes keep the dialog open.
	kittest.Tap(t, w, "Relay…")
	rd = y.relayDlg
	kittest.TypeIn(w, rd.addr, "http://relay.example")
	kittest.Tap(t, w, "Save")
	mustShow(t, w, "Give the relay's address as relay serve printed it: nats://HOST:PORT.")
	focused(t, w, rd.addr, "address")
	kittest.Retype(w, rd.addr, "relay.example:4222")
	kittest.TypeIn(w, rd.fp, "sha256:1234")
	press(t, w, fyne.KeyReturn)
	kittest.Settle(t)
	mustShow(t, w, "The fingerprint is “sha256:” and 64 letters and digits, as relay serve printed it.")
	focused(t, w, rd.fp, "fingerprint")
	if !sr.SyncRelay(ctx).IsZero() {
		t.Fatal("a relay with a bad fingerprint was saved")
	}
	kittest.Shot(t, w, "sync-relay-dialog-error")
	kittest.Tap(t, w, "Cancel")
}

// TestRelayRefusedIsNamed: a relay that does not admit this computer
// (here a NATS server that wants a password this computer lacks) is
// "Refused" on the card, and the result says why in plain words.
func TestRelayRefusedIsNamed(t *testing.T) {
	ctx := context.Background()
	f := newPractice(t)
	a := newApp(t)
	sa := f.signIn(f.a, adminName, adminPass)
	srv := stockRelay(t, func(o *server.Options) { o.Username, o.Password = "operator", "not-given" })
	if err := sa.SetSyncRelay(ctx, app.RelayLink{URL: srv.ClientURL()}); err != nil {
		t.Fatal(err)
	}
	w := newWindow(t, a, "ClinicVault")
	y := newSyncScreen(w, sa)
	show(w, sa, "Sync", y.view)
	kittest.Settle(t)
	mustShow(t, w, relayNotYet)
	kittest.Tap(t, w, "Sync now")
	if y.lastRelay == nil || !errors.Is(y.lastRelay.err, cvsync.ErrRelayRefused) {
		t.Fatalf("pass through a relay that refuses: %+v", y.lastRelay)
	}
	mustShow(t, w, relayRefused)
	mustShow(t, w, "The relay refused this computer: it is not admitted")
	if y.relayCard.state.Importance != widget.DangerImportance {
		t.Fatalf("Refused in importance %v", y.relayCard.state.Importance)
	}
	kittest.Shot(t, w, "sync-relay-refused")
}

// TestRelayWords: the card's words come from the errors' kinds, however
// they are wrapped, and the addresses typed are tidied.
func TestRelayWords(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("relay nats://x:4222: %w", err) }
	for _, c := range []struct {
		ran       bool
		err       error
		connected bool
		want      string
	}{
		{true, nil, true, relayConnected},
		{true, nil, false, relayOffline},
		{false, nil, false, relayNotYet},
		{false, nil, true, relayConnected},
		{true, wrap(cvsync.ErrUnreachable), false, relayOffline},
		{true, wrap(cvsync.ErrRelayRefused), false, relayRefused},
		{true, wrap(cvsync.ErrRelayPin), false, relayPinned},
		{true, errors.New("disk full"), true, relayFailed},
	} {
		if got, _ := relayState(c.ran, c.err, c.connected); got != c.want {
			t.Errorf("relayState(%v, %v, %v) = %q, want %q", c.ran, c.err, c.connected, got, c.want)
		}
	}
	for in, want := range map[string]string{
		"nats://10.0.0.5:4222":                "nats://10.0.0.5:4222",
		" relay.example:4222 ":                "nats://relay.example:4222",
		"nats://a:4222, nats://b:4222,":       "nats://a:4222,nats://b:4222",
		"tls://relay.example:4222/":           "tls://relay.example:4222",
		"http://relay.example":                "",
		"":                                    "",
		"nats://relay.example:4222/some/path": "",
		"nats://:4222":                        "",
	} {
		got, ok := relayAddress(in)
		if ok != (want != "") || got != want {
			t.Errorf("relayAddress(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	now = func() time.Time { return time.Date(2026, 3, 2, 12, 0, 0, 0, time.Local) }
	defer func() { now = time.Now }()
	for at, want := range map[time.Time]string{
		{}: "Last change received: never",
		time.Date(2026, 3, 2, 11, 58, 0, 0, time.Local): "Last change received: at 11:58 (2 minutes ago)",
		time.Date(2026, 2, 27, 9, 0, 0, 0, time.Local):  "Last change received: 3 days ago",
	} {
		if got := receivedText(at); got != want {
			t.Errorf("receivedText(%v) = %q, want %q", at, got, want)
		}
	}
}

// TestWatcherThroughTheRelay: the watcher follows the relay set on the
// Sync screen (no folder), and its passes show on the card and in the
// result, marked automatic.
func TestWatcherThroughTheRelay(t *testing.T) {
	ctx := context.Background()
	f := newPractice(t)
	a := newApp(t)
	shared := sharedFolder(t)
	sa := f.signIn(f.a, adminName, adminPass)
	if err := sa.SetSyncFolder(ctx, shared); err != nil {
		t.Fatal(err)
	}
	b := f.pairDirect(sa, shared, "Laptop", f.clk)
	sb := f.signIn(b, adminName, adminPass)
	if err := sb.SetSyncFolder(ctx, ""); err != nil {
		t.Fatal(err)
	}
	srv := stockRelay(t)
	relay := app.RelayLink{URL: srv.ClientURL()}
	if err := sb.SetSyncRelay(ctx, relay); err != nil {
		t.Fatal(err)
	}
	stop := StartWatcher(sb, nil)
	defer stop()
	w := newWindow(t, a, "ClinicVault")
	y := newSyncScreen(w, sb)
	show(w, sb, "Sync", y.view)
	kittest.Settle(t)

	if _, _, err := sa.AddPatient(ctx, app.Patient{Given: "Ana", Family: "Silva", DOB: "1980-01-01"}); err != nil {
		t.Fatal(err)
	}
	if _, err := sa.SyncAt(ctx, app.RelayPlace(relay)); err != nil {
		t.Fatal(err)
	}
	// (A's pass may be taken in several of B's: A's log arrives as A
	// sends it.)
	kittest.WaitFor(t, "the patient on B", func() bool {
		got, _ := sb.SearchPatients(ctx, "Silva", 10)
		return len(got) == 1
	})
	kittest.WaitFor(t, "the screen to show an automatic pass through the relay", func() bool {
		return y.lastRelay != nil && y.lastRelay.auto && y.lastRelay.relay == relay.URL
	})
	kittest.WaitFor(t, "Connected on the card", func() bool { return y.relayCard.state.Text == relayConnected })
	mustShow(t, w, "(automatic)")
	if y.last != nil {
		t.Fatalf("a folder pass shown on a computer with no folder: %+v", y.last)
	}
}
