package devices

import (
	"errors"
	"net/url"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// The Sync screen's relay: a card with the relay's address, its state in
// words and when a change last arrived, and the "Relay…" dialog that sets
// it, claims a new one, or stops using it.

// What the relay card says of the relay's state.
const (
	relayConnected = "Connected"
	relayOffline   = "Offline: changes wait here and go out when it is back"
	relayRefused   = "Refused: this computer is not admitted (revoked, or not paired through this relay)"
	relayPinned    = "Not the practice's relay: its certificate changed"
	relayFailed    = "The last sync through it did not finish (see below)"
	relayNotYet    = "Not connected yet: it connects at the next sync"
)

// relayState is the relay's state in words: from the last pass through
// it (ran) and its error, and whether the session holds a live
// connection now.
func relayState(ran bool, err error, connected bool) (string, widget.Importance) {
	switch {
	case errors.Is(err, cvsync.ErrUnreachable):
		return relayOffline, widget.WarningImportance
	case errors.Is(err, cvsync.ErrRelayRefused):
		return relayRefused, widget.DangerImportance
	case errors.Is(err, cvsync.ErrRelayPin):
		return relayPinned, widget.DangerImportance
	case err != nil:
		return relayFailed, widget.DangerImportance
	case connected:
		return relayConnected, widget.SuccessImportance
	case ran:
		// The pass went through, and the connection has dropped since.
		return relayOffline, widget.WarningImportance
	}
	return relayNotYet, widget.MediumImportance
}

// receivedText says when this computer last applied another computer's
// change: the time of day and how long ago that was within a day, else
// how long ago only.
func receivedText(t time.Time) string {
	const lead = "Last change received: "
	switch {
	case t.IsZero():
		return lead + "never"
	case now().Sub(t) < 24*time.Hour:
		return lead + "at " + clockTime(t) + " (" + ago(t) + ")"
	}
	return lead + ago(t)
}

// relayCard is the card's widgets.
type relayCard struct {
	addr     *widget.Label
	state    *widget.Label
	received *widget.Label
	edit     *widget.Button
	view     fyne.CanvasObject
}

func newRelayCard(y *syncScreen, label fyne.CanvasObject) *relayCard {
	c := &relayCard{addr: kit.Bold("…"), state: widget.NewLabel(""), received: kit.Quiet("")}
	c.addr.Wrapping = fyne.TextWrapBreak // a cluster's addresses are long
	c.state.Wrapping = fyne.TextWrapWord
	c.state.Hide()
	c.received.Hide()
	c.edit = widget.NewButtonWithIcon("Relay…", theme.SettingsIcon(), kit.Act(y.s, y.editRelay))
	lines := container.New(kit.TightVBox(-8), c.addr, c.state, c.received)
	c.view = kit.Card(container.NewBorder(nil, nil, label, container.NewVBox(c.edit), lines))
	return c
}

// showRelay shows the relay's address, state and last change received.
func (y *syncScreen) showRelay() {
	c := y.relayCard
	if y.relay.IsZero() {
		c.addr.SetText("not set")
		c.addr.Importance = widget.MediumImportance
		c.addr.TextStyle = fyne.TextStyle{Italic: true} // a value missing, not a value
		c.addr.Refresh()
		c.state.Hide()
		c.received.Hide()
		y.relayResult.Hide()
		return
	}
	c.addr.SetText(y.relay.URL)
	c.addr.Importance = widget.MediumImportance
	c.addr.TextStyle = fyne.TextStyle{Bold: true}
	c.addr.Refresh()
	var err error
	if y.lastRelay != nil {
		err = y.lastRelay.err
	}
	text, imp := relayState(y.lastRelay != nil, err, y.s.RelayConnected(y.relay))
	c.state.SetText(text)
	c.state.Importance = imp
	c.state.Refresh()
	c.state.Show()
	c.received.SetText(receivedText(y.received))
	c.received.Show()
}

// editRelay opens the "Relay…" dialog.
func (y *syncScreen) editRelay() {
	y.relayDlg = newRelayDialog(y)
}

// setRelay shows a relay just saved (zero: none) and syncs through it.
func (y *syncScreen) setRelay(l app.RelayLink) {
	y.relay = l
	y.lastRelay = nil
	y.relayResult.Hide()
	y.showFolder()
	y.showRelay()
	y.refreshButtons()
	if l.IsZero() {
		y.status.Say(widget.MediumImportance, "This computer no longer syncs through the relay.")
		return
	}
	y.status.Say(widget.MediumImportance, "")
	y.syncAt(app.RelayPlace(l))
}

// relayDialog sets the relay: its address, the fingerprint relay serve
// printed, and for a new relay its one-time claim code (admins). Tab
// goes from field to field, Enter saves, Esc cancels.
type relayDialog struct {
	y      *syncScreen
	d      *dialog.CustomDialog
	addr   *kit.Entry
	fp     *kit.Entry
	claim  *kit.Entry
	status *kit.StatusText
	busy   *widget.Activity
	save   *widget.Button
	cancel *widget.Button
	stop   *widget.Button
	form   *widget.Form
	// stopRow holds "Stop using the relay", shown while a relay is set.
	stopRow *fyne.Container
	// working is true while the relay is being saved or claimed.
	working bool
}

func newRelayDialog(y *syncScreen) *relayDialog {
	r := &relayDialog{y: y, status: kit.NewStatus(widget.DangerImportance), busy: widget.NewActivity()}
	admin := y.s.User().Role == app.Admin
	r.addr = r.entry("nats://HOST:PORT")
	r.fp = r.entry("sha256:…")
	r.claim = r.entry("")
	r.addr.SetText(y.relay.URL)
	r.fp.SetText(y.relay.Fingerprint)
	claimHint := "Only for a new relay: the one-time code relay serve printed."
	if !admin {
		r.claim.Disable()
		claimHint = "Only an admin can claim a new relay."
	}
	r.form = widget.NewForm(
		widget.NewFormItem("Address", r.addr),
		&widget.FormItem{Text: "Fingerprint", Widget: r.fp, HintText: "Optional: the fingerprint relay serve printed."},
		&widget.FormItem{Text: "Claim code", Widget: r.claim, HintText: claimHint},
	)
	r.stop = widget.NewButtonWithIcon("Stop using the relay", theme.DeleteIcon(), kit.Act(y.s, r.stopUsing))
	r.stop.Importance = widget.DangerImportance
	r.stopRow = container.NewHBox(r.stop)
	if y.relay.IsZero() {
		r.stopRow.Hide()
	}
	r.busy.Hide()
	content := container.New(kit.FixedWidth(540), container.NewVBox(
		kit.Wrapped("A relay is a server that every computer of the practice can reach, at a second site or from home; "+
			"it holds only encrypted batches. Give its address and fingerprint as clinicvault relay serve printed them, "+
			"or the address of the NATS server your practice group runs."),
		r.form,
		container.NewBorder(nil, nil, r.busy, nil, r.status),
		r.stopRow,
	))
	r.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), kit.Act(y.s, r.cancelled))
	r.save = widget.NewButtonWithIcon("Save", theme.ConfirmIcon(), kit.Act(y.s, r.submit))
	r.save.Importance = widget.HighImportance
	r.d = dialog.NewCustomWithoutButtons("Relay", content, y.win)
	r.d.SetButtons([]fyne.CanvasObject{r.cancel, r.save})
	closeOnLock(y.s, r.d)
	r.d.Show()
	y.win.Canvas().Focus(r.addr)
	return r
}

// entry is one of the dialog's fields: Enter saves, Esc cancels.
func (r *relayDialog) entry(placeholder string) *kit.Entry {
	e := kit.NewEntry(r.y.s)
	e.PlaceHolder = placeholder
	e.OnSubmitted = func(string) { r.submit() }
	e.OnEscape = func() bool {
		r.cancelled()
		return true
	}
	return e
}

// cancelled closes the dialog, unless it is saving.
func (r *relayDialog) cancelled() {
	if !r.working {
		r.d.Hide()
	}
}

func (r *relayDialog) setWorking(on bool, what string) {
	r.working = on
	for _, w := range []fyne.Disableable{r.addr, r.fp, r.save, r.cancel, r.stop} {
		kit.Enable(w, !on)
	}
	kit.Enable(r.claim, !on && r.y.s.User().Role == app.Admin)
	if on {
		r.busy.Show()
		r.busy.Start()
		r.status.Say(widget.MediumImportance, what)
	} else {
		r.busy.Stop()
		r.busy.Hide()
	}
}

// fail shows why the relay was not saved and puts the cursor in field.
func (r *relayDialog) fail(text string, field fyne.Focusable) {
	r.status.Say(widget.DangerImportance, text)
	if field != nil {
		r.y.win.Canvas().Focus(field)
	}
}

// submit saves the relay (claiming it first when a claim code is
// given), closes the dialog and syncs through it.
func (r *relayDialog) submit() {
	if r.working {
		return
	}
	addr, ok := relayAddress(r.addr.Text)
	if !ok {
		r.fail("Give the relay's address as relay serve printed it: nats://HOST:PORT.", r.addr)
		return
	}
	l := app.RelayLink{URL: addr, Fingerprint: strings.TrimSpace(r.fp.Text)}
	if l.Fingerprint != "" {
		if _, err := cvsync.PinnedTLS(l.Fingerprint); err != nil {
			r.fail("The fingerprint is “sha256:” and 64 letters and digits, as relay serve printed it.", r.fp)
			return
		}
	}
	if l.URL == r.y.relay.URL {
		l.Creds = r.y.relay.Creds // set on the command line; kept
	}
	code := strings.TrimSpace(r.claim.Text)
	if r.claim.Disabled() {
		code = ""
	}
	what, failed := "Saving…", "The relay was not saved. "
	if code != "" {
		what, failed = "Claiming the relay…", "The relay was not claimed. "
	}
	r.setWorking(true, what)
	y := r.y
	var err error
	kit.Background(func() {
		if code != "" {
			err = y.s.ClaimRelay(y.ctx, l, code)
		} else {
			err = y.s.SetSyncRelay(y.ctx, l)
		}
	}, func() {
		r.setWorking(false, "")
		if err != nil {
			var field fyne.Focusable = r.addr
			if errors.Is(err, app.ErrRelayClaim) {
				field = r.claim
			}
			r.fail(failed+plain.Error(err), field)
			return
		}
		r.d.Hide()
		y.setRelay(l)
	})
}

// stopUsing clears the relay: this computer syncs through the folder
// only.
func (r *relayDialog) stopUsing() {
	if r.working {
		return
	}
	r.setWorking(true, "Saving…")
	y := r.y
	var err error
	kit.Background(func() {
		err = y.s.SetSyncRelay(y.ctx, app.RelayLink{})
	}, func() {
		r.setWorking(false, "")
		if err != nil {
			r.fail("The relay was not cleared. "+plain.Error(err), nil)
			return
		}
		r.d.Hide()
		y.setRelay(app.RelayLink{})
	})
}

// relayAddress checks and tidies the address typed: one nats://HOST:PORT
// or several, comma-separated (a cluster); nats:// is added where no
// scheme is given.
func relayAddress(text string) (string, bool) {
	var out []string
	for _, part := range strings.Split(text, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "://") {
			part = "nats://" + part
		}
		u, err := url.Parse(part)
		if err != nil || u.Hostname() == "" || u.Path != "" && u.Path != "/" {
			return "", false
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return "", false
		}
		out = append(out, strings.TrimSuffix(part, "/"))
	}
	return strings.Join(out, ","), len(out) > 0
}
