package kit

import (
	"runtime"
	"strings"

	"fyne.io/fyne/v2"
)

// ShortcutLabel is how s is written in a sentence on this system: "Ctrl+L"
// on Windows and Linux, "⌘L" on macOS, where fyne.KeyModifierShortcutDefault
// is Command. Every text that names a shortcut takes it from here, so that
// it names the key the shortcut is bound to.
func ShortcutLabel(s fyne.KeyboardShortcut) string {
	return ShortcutLabelFor(runtime.GOOS, s)
}

// ShortcutLabelFor is ShortcutLabel on the system goos. On macOS the
// modifiers are Apple's symbols in Apple's order (⌃⌥⇧⌘) with the key
// after them; elsewhere they are words joined by "+" (Ctrl+Alt+Shift+).
func ShortcutLabelFor(goos string, s fyne.KeyboardShortcut) string {
	mac := isMac(goos)
	type modifier struct {
		bit       fyne.KeyModifier
		mac, word string
	}
	var b strings.Builder
	for _, m := range []modifier{
		{fyne.KeyModifierControl, "⌃", "Ctrl+"},
		{fyne.KeyModifierAlt, "⌥", "Alt+"},
		{fyne.KeyModifierShift, "⇧", "Shift+"},
		{fyne.KeyModifierSuper, "⌘", "Super+"},
	} {
		if s.Mod()&m.bit == 0 {
			continue
		}
		if mac {
			b.WriteString(m.mac)
		} else {
			b.WriteString(m.word)
		}
	}
	b.WriteString(keyLabel(mac, s.Key()))
	return b.String()
}

// KeyLabel is how key k alone is written in a sentence on this system:
// "Enter" for fyne.KeyReturn on Windows and Linux, "Return" on macOS.
func KeyLabel(k fyne.KeyName) string {
	return keyLabel(isMac(runtime.GOOS), k)
}

// keyLabel is the name printed on key k: a letter or digit as it is, the
// named keys as a keyboard of the system labels them, in words (the
// arrows too: Fyne's text font has no arrow glyphs).
func keyLabel(mac bool, k fyne.KeyName) string {
	switch k {
	case fyne.KeyReturn:
		if mac {
			return "Return"
		}
		return "Enter"
	case fyne.KeyEnter:
		return "Enter"
	case fyne.KeyBackspace:
		if mac {
			return "Delete"
		}
		return "Backspace"
	case fyne.KeyDelete:
		if mac {
			return "Forward Delete"
		}
		return "Del"
	case fyne.KeyEscape:
		return "Esc"
	case fyne.KeyPageUp:
		return "Page Up"
	case fyne.KeyPageDown:
		return "Page Down"
	}
	return string(k)
}

// isMac reports whether goos is one of Apple's (Fyne's default shortcut
// modifier is Command there).
func isMac(goos string) bool { return goos == "darwin" || goos == "ios" }
