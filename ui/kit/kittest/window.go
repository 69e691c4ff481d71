package kittest

import (
	"image/color"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/clinicvault/clinicvault/app"
	"github.com/clinicvault/clinicvault/ui/kit"
)

// Theme is ClinicVault's theme (teal primary, readable status colours)
// over a base theme, in the light variant or, when Dark is set, the dark
// one, so that screenshots match the app's.
type Theme struct {
	fyne.Theme
	Dark bool
}

// Color is ClinicVault's colour for n, or the base theme's in the
// theme's variant.
func (t Theme) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	if t.Dark {
		switch n {
		case theme.ColorNamePrimary:
			return color.NRGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0xff}
		case theme.ColorNameForegroundOnPrimary:
			return color.White
		case theme.ColorNameSuccess:
			return color.NRGBA{R: 0x4a, G: 0xde, B: 0x80, A: 0xff}
		}
		return t.Theme.Color(n, theme.VariantDark)
	}
	switch n {
	case theme.ColorNamePrimary:
		return color.NRGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0xff}
	case theme.ColorNameForegroundOnPrimary:
		return color.White
	case theme.ColorNameFocus:
		return color.NRGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0x50}
	case theme.ColorNameSelection:
		return color.NRGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0x40}
	case theme.ColorNameSuccess:
		return color.NRGBA{R: 0x15, G: 0x80, B: 0x3d, A: 0xff}
	case theme.ColorNameWarning:
		return color.NRGBA{R: 0xb4, G: 0x53, B: 0x09, A: 0xff}
	case theme.ColorNameError:
		return color.NRGBA{R: 0xb9, G: 0x1c, B: 0x1c, A: 0xff}
	}
	return t.Theme.Color(n, theme.VariantLight)
}

// NewApp starts a headless test app, torn down when the test ends, in
// ClinicVault's light theme.
func NewApp(t testing.TB) fyne.App {
	t.Helper()
	a := test.NewTempApp(t)
	a.Settings().SetTheme(Theme{Theme: theme.DefaultTheme()})
	kit.SafeFiles()
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
// name and who is signed in on top, and the navigation items on the
// left with current selected.
func Frame(practice string, who app.User, items []string, current string, screen fyne.CanvasObject) fyne.CanvasObject {
	name := widget.NewLabelWithStyle(practice, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	name.SizeName = theme.SizeNameSubHeadingText
	top := container.NewVBox(container.NewBorder(nil, nil, name, container.NewHBox(
		widget.NewLabel("Signed in as "+who.Name+" ("+string(who.Role)+")"), widget.NewButtonWithIcon("Lock", theme.LogoutIcon(), nil))),
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
