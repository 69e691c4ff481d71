package kit

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
)

// A shortcut is named as each system's keyboard names it: the darwin
// build binds ClinicVault's shortcuts to Command (Fyne's
// KeyModifierShortcutDefault is KeyModifierSuper there), the others to
// Control.
func TestShortcutLabelForEachSystem(t *testing.T) {
	key := func(k fyne.KeyName, m fyne.KeyModifier) fyne.KeyboardShortcut {
		return &desktop.CustomShortcut{KeyName: k, Modifier: m}
	}
	for _, c := range []struct {
		goos string
		s    fyne.KeyboardShortcut
		want string
	}{
		{"linux", key(fyne.KeyL, fyne.KeyModifierControl), "Ctrl+L"},
		{"windows", key(fyne.KeyL, fyne.KeyModifierControl), "Ctrl+L"},
		{"darwin", key(fyne.KeyL, fyne.KeyModifierSuper), "⌘L"},
		{"windows", key(fyne.KeyF, fyne.KeyModifierControl), "Ctrl+F"},
		{"darwin", key(fyne.KeyN, fyne.KeyModifierSuper), "⌘N"},
		{"windows", key(fyne.KeyReturn, fyne.KeyModifierControl), "Ctrl+Enter"},
		{"darwin", key(fyne.KeyReturn, fyne.KeyModifierSuper), "⌘Return"},
		{"linux", key(fyne.KeyPageDown, fyne.KeyModifierControl), "Ctrl+Page Down"},
		{"darwin", key(fyne.KeyPageUp, fyne.KeyModifierSuper), "⌘Page Up"},
		{"linux", key(fyne.KeyZ, fyne.KeyModifierControl|fyne.KeyModifierShift), "Ctrl+Shift+Z"},
		{"darwin", key(fyne.KeyZ, fyne.KeyModifierSuper|fyne.KeyModifierShift), "⇧⌘Z"},
		{"darwin", key(fyne.KeyF, fyne.KeyModifierSuper|fyne.KeyModifierControl|fyne.KeyModifierAlt), "⌃⌥⌘F"},
		{"windows", key(fyne.KeyF4, fyne.KeyModifierAlt), "Alt+F4"},
		{"darwin", key(fyne.KeyBackspace, fyne.KeyModifierSuper), "⌘Delete"},
		{"linux", key(fyne.KeyBackspace, fyne.KeyModifierControl), "Ctrl+Backspace"},
	} {
		if got := ShortcutLabelFor(c.goos, c.s); got != c.want {
			t.Errorf("ShortcutLabelFor(%s, %s) = %q, want %q", c.goos, c.s.ShortcutName(), got, c.want)
		}
	}
}

// On the system the test runs on (Linux here; macOS and Windows in
// their CI), a shortcut bound with KeyModifierShortcutDefault, as all of
// ClinicVault's are, is named with that system's key.
func TestShortcutLabelHere(t *testing.T) {
	want := map[string]string{"darwin": "⌘Return", "ios": "⌘Return"}[runtime.GOOS]
	if want == "" {
		want = "Ctrl+Enter"
	}
	if got := ShortcutLabel(SubmitShortcut); got != want {
		t.Fatalf("ShortcutLabel(SubmitShortcut) = %q on %s, want %q", got, runtime.GOOS, want)
	}
	wantKey := map[bool]string{true: "Return", false: "Enter"}[want == "⌘Return"]
	if got := KeyLabel(fyne.KeyReturn); got != wantKey {
		t.Fatalf("KeyLabel(KeyReturn) = %q on %s, want %q", got, runtime.GOOS, wantKey)
	}
}

// No text of a window names a shortcut's keys itself: "Ctrl+L" would be
// wrong on a Mac, where the shortcut is ⌘L. The terminal's Ctrl+C, which
// package cli names, is Control on every system.
func TestScreensNameShortcutsThroughShortcutLabel(t *testing.T) {
	n := 0
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "cli" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || path == filepath.Join("..", "kit", "shortcut.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		n++
		ast.Inspect(f, func(node ast.Node) bool {
			if lit, ok := node.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				for _, k := range []string{"Ctrl+", "Cmd+", "⌘", "Ctrl-"} {
					if strings.Contains(s, k) {
						t.Errorf("%s: %q names a shortcut's keys; use ShortcutLabel", fset.Position(lit.Pos()), s)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil || n < 20 {
		t.Fatalf("walked %d files: %v", n, err)
	}
}
