package store

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLabelsAreOneList: every domain-separation label is declared once, in
// keycrypto.go's list, versioned and distinct; no other package writes
// one as a literal (a copy that drifts is a silent reuse waiting to
// happen). File-format names (the keyring's, the backup's) are not
// labels.
func TestLabelsAreOneList(t *testing.T) {
	formats := map[string]bool{"clinicvault.org/v1/keyring": true, "clinicvault.org/v1/backup": true}
	seen := map[string]string{}
	fset := token.NewFileSet()
	for _, dir := range []string{".", "../sync", "../app", "../ui", "../ui/cli", "../ui/admin", "../ui/devices"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			list := filepath.Base(path) == "keycrypto.go" && dir == "."
			ast.Inspect(f, func(n ast.Node) bool {
				if vs, ok := n.(*ast.ValueSpec); ok && list {
					for i, name := range vs.Names {
						if !strings.HasPrefix(name.Name, "Label") || i >= len(vs.Values) {
							continue
						}
						lit, ok := vs.Values[i].(*ast.BasicLit)
						if !ok {
							t.Errorf("%s is not a literal", name.Name)
							continue
						}
						v, _ := strconv.Unquote(lit.Value)
						if !strings.HasPrefix(v, "clinicvault.org/v") {
							t.Errorf("%s = %q is not versioned", name.Name, v)
						}
						if other, dup := seen[v]; dup {
							t.Errorf("%s and %s are both %q", name.Name, other, v)
						}
						seen[v] = name.Name
					}
					return false
				}
				if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && !list {
					v, _ := strconv.Unquote(lit.Value)
					if strings.HasPrefix(v, "clinicvault.org/") && !formats[v] {
						t.Errorf("%s: label %q written outside keycrypto.go's list", fset.Position(lit.Pos()), v)
					}
				}
				return true
			})
		}
	}
	if len(seen) < 20 {
		t.Fatalf("only %d labels found in keycrypto.go: is the list where this test looks?", len(seen))
	}
}
