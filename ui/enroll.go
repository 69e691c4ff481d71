package ui

import (
	"fmt"
	"image"
	"image/draw"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
)

// enrollPanel shows a new authenticator secret as a QR code and as text,
// and takes a code from the app to prove it was scanned. It is used by the
// first-run wizard, the recovery screen, "Add user" and the re-enrollment
// after an admin's reset.
type enrollPanel struct {
	g      *gui
	enr    *app.Enrollment
	who    string // "you" or the new user's name, for the instructions
	code   *kit.Entry
	status *kit.StatusText
	view   fyne.CanvasObject
	// confirmed is true while the code in the field is accepted.
	confirmed bool
	// onChange runs when confirmed may have changed.
	onChange func()
	// onSubmit runs on Enter in the code field.
	onSubmit func()
}

// qrSize is the QR code's size on screen.
const qrSize = 220

// newEnrollPanel shows enr. who is how the instructions name the person
// scanning: "" for the signed-in user, else a name.
func newEnrollPanel(g *gui, enr *app.Enrollment, who string) *enrollPanel {
	p := &enrollPanel{g: g, enr: enr, who: who, code: newEntry(g, "6-digit code"), status: kit.NewStatus(widget.MediumImportance)}

	var qr fyne.CanvasObject
	if img, err := enr.QR(2 * qrSize); err == nil {
		// Fyne's software painter draws nothing for the barcode
		// package's image type; a plain NRGBA copy draws everywhere.
		rgba := image.NewNRGBA(img.Bounds())
		draw.Draw(rgba, rgba.Bounds(), img, image.Point{}, draw.Src)
		im := canvas.NewImageFromImage(rgba)
		im.FillMode = canvas.ImageFillContain
		im.ScaleMode = canvas.ImageScalePixels
		im.SetMinSize(fyne.NewSquareSize(qrSize))
		// A white quiet zone keeps the code scannable in a dark theme.
		qr = container.NewStack(canvas.NewRectangle(whiteColor), container.NewPadded(im))
	} else {
		qr = kit.Wrapped("The QR code could not be drawn: type the key by hand.")
	}

	secret := widget.NewLabelWithStyle(groupSecret(enr.Secret()), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true, Bold: true})
	copyKey := widget.NewButtonWithIcon("Copy key", theme.ContentCopyIcon(), g.act(func() {
		g.copySecret(enr.Secret())
		p.status.Importance = widget.MediumImportance
		p.status.SetText(fmt.Sprintf("Key copied. It is cleared from the clipboard in %d seconds, and when ClinicVault locks.", int(g.clipboardFor/time.Second)))
	}))
	copyKey.Importance = widget.LowImportance

	scanner := "your phone"
	if who != "" {
		scanner = who + "'s phone"
	}
	steps := container.NewVBox(
		kit.Wrapped("1. Open an authenticator app on "+scanner+" (for example Google Authenticator, Microsoft Authenticator or 2FAS) and add an account."),
		kit.Wrapped("2. Scan this QR code. If the app cannot scan, choose to enter a key and type this one:"),
		container.NewHBox(secret, copyKey),
		kit.Wrapped("3. Type the 6-digit code the app now shows:"),
		container.NewBorder(nil, nil, nil, nil, p.code),
		p.status,
	)
	p.code.OnChanged = func(string) { p.update() }
	p.code.OnSubmitted = func(string) {
		if p.onSubmit != nil {
			p.onSubmit()
		}
	}
	p.view = container.NewBorder(nil, nil, container.NewVBox(qr), nil, container.NewPadded(steps))
	return p
}

// update checks the typed code once it has six digits.
func (p *enrollPanel) update() {
	code := digitsOnly(p.code.Text)
	was := p.confirmed
	switch {
	case len(code) < 6:
		p.confirmed = false
		p.status.Importance = widget.MediumImportance
		p.status.SetText("")
	case p.enr.Confirm(code, p.g.now()):
		p.confirmed = true
		p.status.Importance = widget.SuccessImportance
		p.status.SetText("Code accepted: the authenticator app is set up.")
	default:
		p.confirmed = false
		p.status.Importance = widget.DangerImportance
		p.status.SetText("That is not the code the app shows now. Check that you scanned this QR code, and that the computer's and the phone's clocks are right.")
	}
	if was != p.confirmed && p.onChange != nil {
		p.onChange()
	}
}

// digitsOnly drops spaces and dashes people type inside a code.
func digitsOnly(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, s)
}

// groupSecret splits a base32 secret into groups of four for reading.
func groupSecret(s string) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
