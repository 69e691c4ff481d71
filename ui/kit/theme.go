package kit

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
)

// Sizes of the theme beyond Fyne's.
const (
	// SizeNameRecoveryKey is the recovery key's text size.
	SizeNameRecoveryKey fyne.ThemeSizeName = "clinicvault.recoveryKey"
	// SizeNameBig is the text size of a pairing code or a fingerprint.
	SizeNameBig fyne.ThemeSizeName = "clinicvault.big"
)

// Theme is ClinicVault's theme: Fyne's default with a calm teal as the
// primary colour, and darker status colours on light backgrounds so that
// green, orange and red text stays readable. The window and the tests'
// windows use it alike.
type Theme struct {
	fyne.Theme
	// Variant, when set, overrides the system's light or dark choice
	// (tests use it for screenshots).
	Variant *fyne.ThemeVariant
}

// NewTheme is the theme in the system's variant.
func NewTheme() fyne.Theme { return &Theme{Theme: theme.DefaultTheme()} }

// ThemeIn is the theme always in variant v.
func ThemeIn(v fyne.ThemeVariant) fyne.Theme { return &Theme{Theme: theme.DefaultTheme(), Variant: &v} }

// Size adds the recovery key's and the big text's sizes to the default
// sizes.
func (t *Theme) Size(n fyne.ThemeSizeName) float32 {
	switch n {
	case SizeNameRecoveryKey:
		return 24
	case SizeNameBig:
		return 40
	}
	return t.Theme.Size(n)
}

var (
	teal      = color.NRGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0xff}
	tealLight = color.NRGBA{R: 0x2d, G: 0xd4, B: 0xbf, A: 0xff}
)

// Color returns the teal primary and its focus and selection tints, and
// readable status colours; everything else is the default theme's.
func (t *Theme) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	if t.Variant != nil {
		v = *t.Variant
	}
	light := v == theme.VariantLight
	switch n {
	case theme.ColorNamePrimary:
		return teal
	case theme.ColorNameForegroundOnPrimary:
		return color.White
	case theme.ColorNameFocus:
		return color.NRGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0x50}
	case theme.ColorNameSelection:
		return color.NRGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0x40}
	case theme.ColorNameHyperlink:
		if light {
			return teal
		}
		return tealLight
	case theme.ColorNameSuccess:
		if light {
			return color.NRGBA{R: 0x15, G: 0x80, B: 0x3d, A: 0xff}
		}
		return color.NRGBA{R: 0x4a, G: 0xde, B: 0x80, A: 0xff}
	case theme.ColorNameWarning:
		if light {
			return color.NRGBA{R: 0xb4, G: 0x53, B: 0x09, A: 0xff}
		}
	case theme.ColorNameError:
		if light {
			return color.NRGBA{R: 0xb9, G: 0x1c, B: 0x1c, A: 0xff}
		}
	}
	return t.Theme.Color(n, v)
}
