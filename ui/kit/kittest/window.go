package kittest

import (
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
)

// NewApp starts a headless test app, torn down when the test ends, in
// ClinicVault's light theme.
func NewApp(t testing.TB) fyne.App {
	t.Helper()
	a := test.NewTempApp(t)
	a.Settings().SetTheme(kit.ThemeIn(theme.VariantLight))
	kit.SafeFiles(app.NewReplacement)
	return a
}

// NewWindow opens a padded headless window of 1000×700 titled title.
func NewWindow(a fyne.App, title string) fyne.Window {
	w := a.NewWindow(title)
	w.SetPadded(true)
	w.Resize(fyne.NewSize(1000, 700))
	return w
}

// Frame is the shell around a screen, for screenshots: the practice's
// name and who is signed in ("Dana Whitfield (admin)") on top, and the
// navigation items on the left with current selected.
func Frame(practice, signedIn string, items []string, current string, screen fyne.CanvasObject) fyne.CanvasObject {
	name := widget.NewLabelWithStyle(practice, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.SizeName = theme.SizeNameSubHeadingText
	top := container.NewVBox(container.NewBorder(nil, nil, name, container.NewHBox(
		widget.NewLabel("Signed in as "+signedIn), widget.NewButtonWithIcon("Lock", theme.LogoutIcon(), nil))),
		widget.NewSeparator())
	nav := widget.NewList(func() int { return len(items) },
		func() fyne.CanvasObject { return widget.NewLabel("") },
		func(id widget.ListItemID, o fyne.CanvasObject) { o.(*widget.Label).SetText(items[id]) })
	for i, it := range items {
		if it == current {
			nav.Select(i)
		}
	}
	left := container.NewBorder(nil, nil, nil, widget.NewSeparator(), container.New(kit.FixedWidth(170), nav))
	return container.NewBorder(top, nil, left, nil, container.NewPadded(screen))
}
