package devices

import (
	"context"
	"errors"
	"os"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	cvsync "github.com/clinicvault/clinicvault/sync"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// joinScreen makes an empty data folder a new computer of a practice.
type joinScreen struct {
	win      fyne.Window
	v        *app.Vault
	onJoined func()
	onBack   func()

	// via chooses how this computer reaches the practice: the shared
	// folder, or a relay (its address, and its fingerprint if given).
	via     *widget.RadioGroup
	folder  *kit.Entry
	choose  *widget.Button
	relay   *kit.Entry
	relayFP *kit.Entry
	code    *kit.Entry
	name    *kit.Entry
	join    *widget.Button
	back    *widget.Button
	cancel  *widget.Button
	status  *kit.StatusText
	busy    *widget.Activity
	fp      *bigText
	fpBox   *fyne.Container
	// form is the form for the place chosen, in formBox: it is made
	// anew when the choice changes.
	form    *widget.Form
	formBox *fyne.Container
	// summary replaces the form while joining: disabled fields are hard
	// to read.
	summary *widget.Label
	sumBox  fyne.CanvasObject
	done    *kit.Notice
	buttons *fyne.Container
	view    fyne.CanvasObject

	joining bool
	stop    context.CancelFunc
	// at is where the last join went: the folder or the relay.
	at app.Place
}

// How a computer joining reaches the practice (the admin's "Add a
// device" dialog names these).
const (
	viaFolder = "The shared folder"
	viaRelay  = "A relay"
)

// NewJoinScreen is "Join a practice", for a computer with no vault yet:
// how it reaches the practice (the shared sync folder, with "Choose…",
// or a relay's address and, optionally, its fingerprint), the one-time
// code an admin's Devices screen shows, and this computer's name (the host name to begin
// with). Join shows the fingerprint large, for the admin to compare with
// theirs, and waits for their approval; then it says so briefly and calls
// onJoined (staff then sign in as usual). On an error it says what went
// wrong in plain words and keeps the form filled. onBack leaves the screen
// (it may be nil: no Back button). Both run on the UI thread.
func NewJoinScreen(win fyne.Window, v *app.Vault, onJoined func(), onBack func()) fyne.CanvasObject {
	return newJoinScreen(win, v, onJoined, onBack).view
}

func newJoinScreen(win fyne.Window, v *app.Vault, onJoined, onBack func()) *joinScreen {
	j := &joinScreen{win: win, v: v, onJoined: onJoined, onBack: onBack,
		status: kit.NewStatus(widget.MediumImportance), busy: widget.NewActivity(), fp: newBigText("")}
	j.folder = kit.NewEntry(nil)
	j.folder.PlaceHolder = "choose it, or type its path"
	j.choose = widget.NewButtonWithIcon("Choose…", theme.FolderOpenIcon(), func() {
		chooseFolder(win, strings.TrimSpace(j.folder.Text), func(dir string) { j.folder.SetText(dir) })
	})
	j.relay = kit.NewEntry(nil)
	j.relay.PlaceHolder = "nats://HOST:PORT"
	j.relayFP = kit.NewEntry(nil)
	j.relayFP.PlaceHolder = "sha256:…"
	j.relayFP.TextStyle = fyne.TextStyle{Monospace: true}
	j.code = kit.NewEntry(nil)
	j.code.PlaceHolder = "for example 7K2QF-M9XHD-4RTBW"
	j.code.TextStyle = fyne.TextStyle{Monospace: true}
	j.name = kit.NewEntry(nil)
	if h, err := os.Hostname(); err == nil {
		j.name.SetText(h)
	}
	// Enter in any field joins.
	for _, e := range []*kit.Entry{j.folder, j.relay, j.relayFP, j.code, j.name} {
		e.OnSubmitted = func(string) { j.start() }
	}
	j.join = widget.NewButtonWithIcon("Join", theme.ConfirmIcon(), j.start)
	j.join.Importance = widget.HighImportance
	j.back = widget.NewButtonWithIcon("Back", theme.NavigateBackIcon(), func() {
		if j.onBack != nil {
			j.onBack()
		}
	})
	if onBack == nil {
		j.back.Hide()
	}
	j.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), j.cancelJoin)
	j.cancel.Hide()

	j.formBox = container.NewStack()
	j.via = widget.NewRadioGroup([]string{viaFolder, viaRelay}, nil)
	j.via.Horizontal = true
	j.via.Required = true
	j.via.SetSelected(viaFolder)
	j.via.OnChanged = func(string) { j.makeForm() }
	j.makeForm()
	j.fpBox = container.NewVBox(
		widget.NewSeparator(),
		kit.Bold("Check that the admin's screen shows the same number:"),
		j.fp.view,
		container.NewHBox(j.busy, widget.NewLabel("Waiting for the admin to approve…")),
	)
	j.fpBox.Hide()
	j.summary = kit.Wrapped("")
	j.sumBox = kit.Card(j.summary)
	j.sumBox.Hide()
	j.done = kit.NewNotice(kit.ToneOK, "", "")
	j.done.Hide()
	j.buttons = container.NewBorder(nil, nil, j.back, container.NewHBox(j.cancel, j.join))
	content := container.NewVBox(
		kit.Heading("Join a practice"),
		kit.Wrapped("Use this when the practice already uses ClinicVault on another computer. "+
			"An admin there opens Computers and chooses “Add a device…”: their screen shows a one-time code, "+
			"and whether this computer reaches the practice through the shared folder or through a relay."),
		j.formBox,
		j.sumBox,
		j.status,
		j.fpBox,
		j.done,
		j.buttons,
	)
	j.view = column(560, content)
	return j
}

// makeForm shows the form for the place chosen: the folder, or the
// relay's address and fingerprint; then the code and the name. (A form's
// rows cannot be hidden, so it is made anew; the fields are kept.)
func (j *joinScreen) makeForm() {
	items := []*widget.FormItem{{Text: "Connects through", Widget: j.via}}
	if j.via.Selected == viaRelay {
		items = append(items,
			&widget.FormItem{Text: "Relay address", Widget: j.relay, HintText: "As the admin's screen shows it."},
			&widget.FormItem{Text: "Fingerprint", Widget: j.relayFP,
				HintText: "Optional: the relay is checked when the admin approves."})
	} else {
		items = append(items, &widget.FormItem{Text: "Sync folder", Widget: container.NewBorder(nil, nil, nil, j.choose, j.folder),
			HintText: "The same shared folder the practice's other computers use."})
	}
	items = append(items,
		&widget.FormItem{Text: "Code", Widget: j.code, HintText: "The code on the admin's screen, under Computers → Add a device…"},
		&widget.FormItem{Text: "This computer's name", Widget: j.name, HintText: "How the other computers will list this one, for example “Front desk”."},
	)
	hidden := j.form != nil && !j.form.Visible()
	j.form = widget.NewForm(items...)
	if hidden {
		j.form.Hide()
	}
	j.formBox.Objects = []fyne.CanvasObject{j.form}
	j.formBox.Refresh()
}

// viaRelay reports whether the relay is chosen.
func (j *joinScreen) viaRelay() bool { return j.via.Selected == viaRelay }

// column puts content in a column of width w, centred across the window
// and near its top, scrolling vertically when the window is too short.
func column(w float32, content fyne.CanvasObject) fyne.CanvasObject {
	return container.NewVScroll(container.New(layout.NewCustomPaddedLayout(40, 24, 0, 0),
		container.NewHBox(layout.NewSpacer(), container.New(kit.FixedWidth(w), content), layout.NewSpacer())))
}

func (j *joinScreen) setJoining(on bool) {
	j.joining = on
	for _, w := range []fyne.Disableable{j.via, j.folder, j.choose, j.relay, j.relayFP, j.code, j.name, j.join, j.back} {
		kit.Enable(w, !on)
	}
	if on {
		where := "Sync folder: " + j.at.Folder
		if j.at.IsRelay() {
			where = "Relay: " + j.at.Relay.URL
		}
		j.summary.SetText(where + "\nThis computer's name: " + strings.TrimSpace(j.name.Text))
		j.form.Hide()
		j.sumBox.Show()
		j.join.Hide()
		j.back.Hide()
		j.cancel.Show()
	} else {
		j.form.Show()
		j.sumBox.Hide()
		j.join.Show()
		if j.onBack != nil {
			j.back.Show()
		}
		j.cancel.Hide()
		j.fpBox.Hide()
		j.busy.Stop()
	}
}

// start checks the form and joins off the UI thread.
func (j *joinScreen) start() {
	if j.joining {
		return
	}
	code, name := strings.TrimSpace(j.code.Text), strings.TrimSpace(j.name.Text)
	at, ok := j.place()
	switch {
	case !ok:
		return
	case code == "":
		j.status.Say(widget.DangerImportance, "Type the code from the admin's screen.")
		j.win.Canvas().Focus(j.code)
		return
	case name == "":
		j.status.Say(widget.DangerImportance, "Give this computer a name, for example “Front desk”.")
		j.win.Canvas().Focus(j.name)
		return
	}
	j.at = at
	j.setJoining(true)
	if at.IsRelay() {
		j.status.Say(widget.MediumImportance, "Looking for the invitation through the relay…")
	} else {
		j.status.Say(widget.MediumImportance, "Looking for the invitation in the folder…")
	}
	ctx, cancel := context.WithCancel(context.Background())
	j.stop = cancel
	onFingerprint := func(fp string) {
		kit.Post(func() {
			if !j.joining {
				return
			}
			j.fp.label.SetText(fp)
			j.fpBox.Show()
			j.busy.Start()
			j.status.Say(widget.MediumImportance, "")
		})
	}
	var err error
	var practice string
	// Not counted as pending work: it lasts until the admin approves,
	// the code expires or Cancel is pressed.
	go func() {
		if at.IsRelay() {
			err = j.v.JoinThroughRelay(ctx, at.Relay, code, name, onFingerprint, poll)
		} else {
			err = j.v.Join(ctx, at.Folder, code, name, onFingerprint, poll)
		}
		if err == nil {
			if info, ierr := j.v.Info(); ierr == nil {
				practice = info.Practice
			}
		}
		kit.Post(func() { j.finished(err, practice) })
	}()
}

// place is where the form says to meet the practice: the folder, or the
// relay (its address tidied). When it is missing or mistyped, it says so
// and puts the cursor in the field.
func (j *joinScreen) place() (app.Place, bool) {
	fail := func(text string, field fyne.Focusable) (app.Place, bool) {
		j.status.Say(widget.DangerImportance, text)
		j.win.Canvas().Focus(field)
		return app.Place{}, false
	}
	if !j.viaRelay() {
		dir := strings.TrimSpace(j.folder.Text)
		if dir == "" {
			return fail("Choose the shared sync folder first.", j.folder)
		}
		return app.FolderPlace(dir), true
	}
	if strings.TrimSpace(j.relay.Text) == "" {
		return fail("Type the relay's address from the admin's screen: nats://HOST:PORT.", j.relay)
	}
	addr, ok := relayAddress(j.relay.Text)
	if !ok {
		return fail("Type the relay's address as the admin's screen shows it: nats://HOST:PORT.", j.relay)
	}
	fp := strings.TrimSpace(j.relayFP.Text)
	if fp != "" {
		if _, err := cvsync.PinnedTLS(fp); err != nil {
			return fail("The fingerprint is “sha256:” and 64 letters and digits, as the admin's screen shows it; or leave it empty.", j.relayFP)
		}
	}
	if addr != j.relay.Text {
		j.relay.SetText(addr)
	}
	return app.RelayPlace(app.RelayLink{URL: addr, Fingerprint: fp}), true
}

func (j *joinScreen) finished(err error, practice string) {
	cancelled := j.stop == nil
	j.stop = nil
	j.setJoining(false)
	switch {
	case err == nil:
		if practice == "" {
			practice = "the practice"
		}
		msg := "This computer has joined " + practice + ". Everyone signs in here with their own passphrase and the code from their authenticator app."
		// The form's work is done: show the outcome in its place.
		j.form.Hide()
		j.buttons.Hide()
		j.status.Say(widget.MediumImportance, "")
		j.done.Set(kit.ToneOK, "This computer has joined "+practice+".",
			"Everyone signs in here with their own passphrase and the code from their authenticator app.")
		j.done.Show()
		kit.ShowInfo(j.win, "Joined", msg)
		if j.onJoined != nil {
			j.onJoined()
		}
	case cancelled || errors.Is(err, context.Canceled):
		j.status.Say(widget.MediumImportance, "Joining was cancelled. To try again, ask the admin for a new code.")
	case errors.Is(err, cvsync.ErrPairingContested):
		j.status.Say(widget.DangerImportance, "This computer did not join. More than one computer answered this code, so the admin's computer cancelled it: someone else may have seen the code. Ask the admin for a new one.")
	case errors.Is(err, app.ErrVaultExists):
		j.status.Say(widget.DangerImportance, "This computer did not join. This computer already holds a ClinicVault vault, or its data folder is not empty. A computer joins a practice only with an empty data folder.")
	case j.at.IsRelay():
		j.relayFailed(err)
	default:
		j.status.Say(widget.DangerImportance, "This computer did not join. "+plain.Error(err))
	}
}

// cancelJoin stops waiting for the admin.
func (j *joinScreen) cancelJoin() {
	if j.stop != nil {
		j.stop()
		j.stop = nil
	}
}

// relayFailed says why joining through the relay failed, and puts the
// cursor in the field to check.
func (j *joinScreen) relayFailed(err error) {
	const lead = "This computer did not join. "
	var none *app.NoInvitationError
	switch {
	case errors.Is(err, cvsync.ErrUnreachable):
		j.status.Say(widget.DangerImportance, lead+"The relay at "+j.at.Relay.URL+" cannot be reached. "+
			"Check its address on the admin's screen, and that this computer is connected to a network that reaches it.")
		j.win.Canvas().Focus(j.relay)
	case errors.As(err, &none):
		j.status.Say(widget.DangerImportance, lead+"There is no invitation for this code on that relay. "+
			"Check the code, and that the relay's address is the one on the admin's screen.")
		j.win.Canvas().Focus(j.code)
	case errors.Is(err, cvsync.ErrRelayPin):
		j.status.Say(widget.DangerImportance, lead+plain.Error(err))
		j.win.Canvas().Focus(j.relayFP)
	default:
		j.status.Say(widget.DangerImportance, lead+plain.Error(err))
	}
}
