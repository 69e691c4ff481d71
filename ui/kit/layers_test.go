package kit

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestScreensReachTheVaultOnlyThroughApp: no package under ui/ imports
// store or database/sql (files, keys and databases are app's to reach),
// and kit imports no app either.
func TestScreensReachTheVaultOnlyThroughApp(t *testing.T) {
	const mod = "github.com/clinicvault/clinicvault/"
	n := 0
	err := filepath.WalkDir("..", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		n++
		inKit := filepath.Dir(path) == "."
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if p == mod+"store" || p == "database/sql" || (inKit && p == mod+"app") {
				t.Errorf("%s imports %s", path, p)
			}
		}
		return nil
	})
	if err != nil || n < 20 {
		t.Fatalf("walked %d files: %v", n, err)
	}
}
