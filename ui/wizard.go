package ui

import (
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/devices"
	"github.com/clinicvault/clinicvault/ui/kit"
	"github.com/clinicvault/clinicvault/ui/plain"
)

// The wizard's steps.
const (
	stepPractice = iota
	stepPassphrase
	stepAuthenticator
	stepRecoveryKey
	wizardSteps
)

var stepTitles = [wizardSteps]string{"The practice", "Your passphrase", "Authenticator app", "Recovery key"}

// wizard is the first-run screen: it creates the vault and its first admin.
type wizard struct {
	g *gui

	step     int
	progress *widget.Label
	body     *fyne.Container
	status   *kit.StatusText
	busy     *widget.Activity
	back     *widget.Button
	next     *widget.Button

	practice *kit.Entry
	admin    *kit.Entry
	pair     *passphrasePair

	enr    *app.Enrollment
	enrFor [2]string // practice and admin the enrollment was made for
	panel  *enrollPanel

	created   *app.Created
	createdAt time.Time
	keyText   *widget.Label
	saved     *widget.Check
	savePDF   *widget.Button
	saveNote  *kit.StatusText
	// printKit opens the saved kit in the system's PDF viewer, to print
	// it; shown once the kit is saved. kitURI is where it was saved.
	printKit *widget.Button
	kitURI   fyne.URI
	// openURL opens a URL with the system (the app's OpenURL; tests
	// replace it).
	openURL  func(*url.URL) error
	creating bool
	firstOf  [wizardSteps]fyne.Focusable
	viewOf   [wizardSteps]fyne.CanvasObject
}

// showJoin shows "Join a practice": this computer becomes another of an
// existing practice's computers, through the shared sync folder.
func (g *gui) showJoin() {
	g.setScreen("join", container.NewPadded(devices.NewJoinScreen(g.win, g.v, func() {
		if info, err := g.v.Info(); err == nil {
			g.practice = info.Practice
		}
		g.showSignIn("")
	}, g.showWizard)), nil)
}

// showWizard shows the first-run wizard.
func (g *gui) showWizard() {
	w := newWizard(g)
	g.wizard = w
	g.setScreen("wizard", w.view(), nil)
	w.show(stepPractice)
}

func newWizard(g *gui) *wizard {
	w := &wizard{
		g:        g,
		progress: widget.NewLabel(""),
		body:     container.NewStack(),
		status:   kit.NewStatus(widget.MediumImportance),
		busy:     widget.NewActivity(),
		practice: newEntry(g, "for example Riverside Family Practice"),
		admin:    newEntry(g, "for example Dr Ana Núñez"),
	}
	w.pair = newPassphrasePair(g, func() (string, string) { return w.adminName(), w.practiceName() })
	w.pair.onChange = w.refreshButtons
	w.back = widget.NewButtonWithIcon("Back", theme.NavigateBackIcon(), g.act(w.goBack))
	w.next = widget.NewButtonWithIcon("Next", theme.NavigateNextIcon(), g.act(w.goNext))
	w.next.IconPlacement = widget.ButtonIconTrailingText
	w.next.Importance = widget.HighImportance
	w.busy.Hide()

	w.practice.OnChanged = func(string) { w.refreshButtons() }
	w.admin.OnChanged = func(string) { w.refreshButtons() }
	w.practice.OnSubmitted = func(string) { g.focus(w.admin) }
	w.admin.OnSubmitted = func(string) { w.goNext() }
	w.pair.confirm.OnSubmitted = func(string) { w.goNext() }

	// Step 1: the practice.
	w.viewOf[stepPractice] = container.NewVBox(
		kit.Heading("Welcome to ClinicVault"),
		kit.Wrapped("ClinicVault keeps your practice's records encrypted on this computer. Setting it up takes a few minutes: "+
			"name the practice, choose your passphrase, set up an authenticator app on your phone, and put the recovery key somewhere safe."),
		widget.NewForm(
			widget.NewFormItem("Practice name", w.practice),
			&widget.FormItem{Text: "Your name", Widget: w.admin, HintText: "You will be the practice's first admin: you add the other staff."},
		),
		widget.NewSeparator(),
		kit.Wrapped("Does the practice already use ClinicVault on another computer? Then join it instead: an admin there gives you a code."),
		container.NewHBox(widget.NewButtonWithIcon("Join an existing practice…", theme.ComputerIcon(), g.act(g.showJoin))),
	)
	w.firstOf[stepPractice] = w.practice

	// Step 2: the passphrase.
	w.viewOf[stepPassphrase] = container.NewVBox(
		kit.Heading("Choose your passphrase"),
		kit.Wrapped("You will type it every time you sign in. Nobody can reset a forgotten passphrase: only the recovery key you get at the end of this setup can."),
		widget.NewForm(w.pair.formItems("Passphrase")...),
	)
	w.firstOf[stepPassphrase] = w.pair.pass

	// Step 4: the recovery key (step 3 is built when the names are known).
	w.keyText = widget.NewLabelWithStyle("", fyne.TextAlignCenter, fyne.TextStyle{Monospace: true, Bold: true})
	w.keyText.SizeName = kit.SizeNameRecoveryKey
	w.saved = widget.NewCheck("I have printed or written down the recovery key", func(bool) {
		g.activity()
		w.refreshButtons()
	})
	w.savePDF = widget.NewButtonWithIcon("Save as PDF…", theme.DocumentSaveIcon(), g.act(w.saveKit))
	w.printKit = widget.NewButtonWithIcon("Print…", theme.DocumentPrintIcon(), g.act(w.openKit))
	w.printKit.Hide()
	w.openURL = g.app.OpenURL
	w.saveNote = kit.NewStatus(widget.MediumImportance)
	w.viewOf[stepRecoveryKey] = container.NewVBox(
		kit.Heading("Keep your recovery key safe"),
		kit.Wrapped("If you forget your passphrase or lose your phone, this key is the only way back in. "+
			"It is shown only once. Write it down or print it now, and keep it in a locked place away from this computer."),
		kit.Panel(theme.ColorNameInputBackground, 14, 18, w.keyText),
		container.NewHBox(w.savePDF, w.printKit),
		w.saveNote,
		w.saved,
	)
	w.firstOf[stepRecoveryKey] = w.saved
	return w
}

// view is the whole wizard page.
func (w *wizard) view() fyne.CanvasObject {
	brand := widget.NewLabelWithStyle("ClinicVault · first-time setup", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	buttons := buttonRow(w.back, layout.NewSpacer(), w.busy, w.next)
	page := container.NewVBox(
		container.NewBorder(nil, nil, brand, w.progress),
		widget.NewSeparator(),
		w.body,
		w.status,
		buttons,
	)
	return column(720, page)
}

func (w *wizard) practiceName() string { return strings.TrimSpace(w.practice.Text) }
func (w *wizard) adminName() string    { return strings.TrimSpace(w.admin.Text) }

// show switches to step i.
func (w *wizard) show(i int) {
	w.step = i
	if i == stepAuthenticator {
		w.prepareEnrollment()
	}
	if i == stepPassphrase {
		w.pair.update() // the names may have changed
	}
	w.progress.SetText(fmt.Sprintf("Step %d of %d: %s", i+1, wizardSteps, stepTitles[i]))
	w.body.Objects = []fyne.CanvasObject{w.viewOf[i]}
	w.body.Refresh()
	w.status.SetText("")
	switch i {
	case stepAuthenticator:
		w.next.SetText("Create the vault")
	case stepRecoveryKey:
		w.next.SetText("Finish")
		w.next.SetIcon(theme.ConfirmIcon())
	default:
		w.next.SetText("Next")
	}
	w.refreshButtons()
	if f := w.firstOf[i]; f != nil {
		w.g.focus(f)
	}
}

// prepareEnrollment makes the authenticator secret for the names typed,
// unless one was already made for them.
func (w *wizard) prepareEnrollment() {
	names := [2]string{w.practiceName(), w.adminName()}
	if w.enr != nil && w.enrFor == names {
		return
	}
	enr, err := app.NewEnrollment(names[0], names[1])
	if err != nil {
		w.viewOf[stepAuthenticator] = kit.Wrapped("Could not make an authenticator secret: " + plain.Error(err))
		return
	}
	w.enr, w.enrFor = enr, names
	w.panel = newEnrollPanel(w.g, enr, "")
	w.panel.onChange = w.refreshButtons
	w.panel.onSubmit = w.goNext
	w.viewOf[stepAuthenticator] = container.NewVBox(
		kit.Heading("Set up your authenticator app"),
		kit.Wrapped("Each sign-in also asks for a 6-digit code from an app on your phone, so a passphrase alone does not open the vault."),
		w.panel.view,
	)
	w.firstOf[stepAuthenticator] = w.panel.code
}

// canGoNext reports whether the current step is complete.
func (w *wizard) canGoNext() bool {
	if w.creating {
		return false
	}
	switch w.step {
	case stepPractice:
		return w.practiceName() != "" && w.adminName() != ""
	case stepPassphrase:
		return w.pair.ok()
	case stepAuthenticator:
		return w.panel != nil && w.panel.confirmed
	case stepRecoveryKey:
		return w.saved.Checked
	}
	return false
}

func (w *wizard) refreshButtons() {
	if w.canGoNext() {
		w.next.Enable()
	} else {
		w.next.Disable()
	}
	if w.creating || w.step == stepPractice || w.step == stepRecoveryKey {
		w.back.Disable()
	} else {
		w.back.Enable()
	}
}

func (w *wizard) goBack() {
	if w.creating || w.step == stepPractice || w.step == stepRecoveryKey {
		return
	}
	w.show(w.step - 1)
}

func (w *wizard) goNext() {
	if !w.canGoNext() {
		return
	}
	switch w.step {
	case stepPractice, stepPassphrase:
		w.show(w.step + 1)
	case stepAuthenticator:
		w.create()
	case stepRecoveryKey:
		w.g.showSignIn(w.adminName())
	}
}

// create makes the vault off the UI thread (key derivation takes a moment).
func (w *wizard) create() {
	practice, admin, pass, enr := w.practiceName(), w.adminName(), w.pair.pass.Text, w.enr
	w.creating = true
	w.refreshButtons()
	w.busy.Show()
	w.busy.Start()
	w.status.Importance = widget.MediumImportance
	w.status.SetText("Creating the vault…")
	var created *app.Created
	var err error
	at := w.g.now()
	w.g.background(func() {
		created, err = w.g.v.Create(w.g.ctx, practice, admin, pass, enr)
	}, func() {
		w.creating = false
		w.busy.Stop()
		w.busy.Hide()
		if err != nil {
			w.status.Importance = widget.DangerImportance
			w.status.SetText("The vault was not created. " + plain.Error(err))
			w.refreshButtons()
			return
		}
		w.created, w.createdAt = created, at
		w.pair.clear()
		w.keyText.SetText(created.RecoveryKey)
		w.show(stepRecoveryKey)
	})
}

// saveKit asks where to save the recovery kit PDF and writes it there.
func (w *wizard) saveKit() {
	if w.created == nil {
		return
	}
	d := dialog.NewFileSave(w.kitChosen, w.g.win)
	d.SetFileName("ClinicVault recovery kit.pdf")
	d.SetFilter(storage.NewExtensionFileFilter([]string{".pdf"}))
	kit.StartIn(d, "")
	w.g.showDialog(d)
}

// kitChosen writes the kit where the save dialog chose, then offers to
// print that file.
func (w *wizard) kitChosen(wc fyne.URIWriteCloser, err error) {
	if err != nil {
		w.g.showError("The recovery kit was not saved", err)
		return
	}
	if wc == nil {
		return // cancelled
	}
	if err := writeRecoveryKit(wc, w.practiceName(), w.created.RecoveryKey, w.createdAt); err != nil {
		w.g.showError("The recovery kit was not saved", err)
		return
	}
	w.kitURI = wc.URI()
	w.saveNote.SetText("Saved to " + wc.URI().Path() + ". Print it (Print… opens it in your PDF viewer), then delete the file and empty the recycle bin.")
	w.printKit.Show()
	w.g.focus(w.printKit)
}

// openKit opens the saved kit in the system's PDF viewer, from which it
// prints. Only the file the person chose is opened: the kit holds the
// recovery key, so it is never written anywhere else (no temporary copy).
func (w *wizard) openKit() {
	if w.kitURI == nil {
		return
	}
	u, err := fileURL(w.kitURI)
	if err == nil {
		err = w.openURL(u)
	}
	if err != nil {
		w.g.showError("The recovery kit did not open", fmt.Errorf("open %s in your PDF viewer and print it from there (%v)", w.kitURI.Path(), err))
	}
}

// fileURL is u as a URL the system opens: file:///path, with what a URL
// cannot hold escaped (spaces, #) and a Windows drive after the slash.
func fileURL(u fyne.URI) (*url.URL, error) {
	if u.Scheme() != "file" {
		return url.Parse(u.String())
	}
	p := filepath.ToSlash(u.Path())
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return &url.URL{Scheme: "file", Path: p}, nil
}

// writeRecoveryKit writes the recovery kit PDF to wc and closes it.
func writeRecoveryKit(wc io.WriteCloser, practice, key string, created time.Time) error {
	pdf, err := app.RecoveryKitPDF(practice, key, created)
	if err != nil {
		wc.Close()
		return err
	}
	if _, err := wc.Write(pdf); err != nil {
		wc.Close()
		return err
	}
	return wc.Close()
}
