// Command typecheck type-checks this module's packages and their tests
// for another operating system, C left opaque, so that a build for a
// system this machine cannot compile for (macOS: its C compiler and SDK
// are not here) still fails on a missing counterpart of an OS-specific
// file, a syscall the system lacks, or a build constraint that leaves a
// name undefined.
//
// It lists the packages with `go list -deps -test` for GOOS/GOARCH with
// cgo on, so every file a real build would compile is chosen, and checks
// them from source with go/types, dependencies first. References into
// package C are not checked (go/types' FakeImportC, as the Go project's
// cmd/api uses to check the standard library for every system); errors
// in dependencies are counted, not reported, as C left opaque can cause
// some there. Usage:
//
//	go run .ci/typecheck/main.go -os darwin -arch arm64 ./...
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// listed is the part of `go list -json` this command reads.
type listed struct {
	ImportPath string
	Dir        string
	Name       string
	ForTest    string
	GoFiles    []string
	CgoFiles   []string
	Imports    []string
	ImportMap  map[string]string
	Standard   bool
	Module     *struct {
		Path      string
		Main      bool
		GoVersion string
	}
	Error *struct{ Err string }
}

func main() {
	goos := flag.String("os", "darwin", "GOOS to check for")
	goarch := flag.String("arch", "arm64", "GOARCH to check for")
	verbose := flag.Bool("v", false, "also print the errors in dependencies")
	pure := flag.Bool("pure", false, "only print this module's packages that need no C compiler for GOOS (no package they import, outside the standard library, uses cgo), one a line")
	flag.Parse()
	patterns := flag.Args()
	if len(patterns) == 0 {
		patterns = []string{"./..."}
	}
	if *pure {
		paths, err := pureGo(*goos, *goarch, patterns)
		if err != nil {
			fmt.Fprintln(os.Stderr, "typecheck:", err)
			os.Exit(1)
		}
		for _, p := range paths {
			fmt.Println(p)
		}
		return
	}
	n, err := check(*goos, *goarch, patterns, os.Stdout, *verbose)
	if err != nil {
		fmt.Fprintln(os.Stderr, "typecheck:", err)
		os.Exit(1)
	}
	fmt.Printf("typecheck %s/%s: %d packages of this module, tests included, type-check\n", *goos, *goarch, n)
}

// check type-checks patterns for goos/goarch and writes each error in
// this module's packages to w (verbose: in dependencies too). n is the
// number of the module's packages checked, with their test packages.
func check(goos, goarch string, patterns []string, w io.Writer, verbose bool) (n int, err error) {
	pkgs, err := list(goos, goarch, patterns, true)
	if err != nil {
		return 0, err
	}
	sizes := types.SizesFor("gc", goarch)
	if sizes == nil {
		return 0, fmt.Errorf("unknown GOARCH %q", goarch)
	}
	fset := token.NewFileSet()
	done := make(map[string]*types.Package, len(pkgs))
	failed, depErrs := make(map[string]bool), 0
	shown, checked := make(map[string]bool), make(map[string]bool)
	for _, p := range pkgs {
		if p.Error != nil {
			return 0, fmt.Errorf("%s: %s", p.ImportPath, p.Error.Err)
		}
		if p.Name == "main" && strings.HasSuffix(p.ImportPath, ".test") {
			continue // the test binary's generated main
		}
		ours := p.Module != nil && p.Module.Main
		var files []*ast.File
		for _, name := range append(append([]string(nil), p.GoFiles...), p.CgoFiles...) {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				return 0, err
			}
			files = append(files, f)
		}
		var errs []error
		conf := types.Config{
			FakeImportC: true,
			Sizes:       sizes,
			Importer:    importer{p: p, done: done},
			Error:       func(err error) { errs = append(errs, err) },
		}
		if p.Module != nil && p.Module.GoVersion != "" {
			conf.GoVersion = "go" + p.Module.GoVersion
		}
		path := p.ImportPath
		if i := strings.Index(path, " ["); i >= 0 {
			path = path[:i] // a test variant keeps its package's path
		}
		pkg, _ := conf.Check(path, fset, files, nil)
		done[p.ImportPath] = pkg
		if !ours {
			depErrs += len(errs)
			if verbose {
				for _, e := range errs {
					fmt.Fprintln(w, "dependency:", e)
				}
			}
			continue
		}
		checked[path] = true
		for _, e := range errs {
			if msg := e.Error(); !shown[msg] { // a test variant repeats its package's errors
				shown[msg] = true
				fmt.Fprintln(w, msg)
			}
		}
		if len(errs) > 0 {
			failed[path] = true
		}
	}
	if depErrs > 0 && !verbose {
		fmt.Fprintf(w, "typecheck %s/%s: %d errors in dependencies not shown (C left opaque; -v shows them)\n", goos, goarch, depErrs)
	}
	n = len(checked)
	if len(failed) > 0 {
		return n, fmt.Errorf("%d of this module's packages do not type-check for %s/%s", len(failed), goos, goarch)
	}
	return n, nil
}

// pureGo lists the module's packages in patterns (tests left out) that
// import no package outside the standard library with cgo files for
// goos/goarch: those a CGO_ENABLED=0 go vet and go build can check.
func pureGo(goos, goarch string, patterns []string) ([]string, error) {
	pkgs, err := list(goos, goarch, patterns, false)
	if err != nil {
		return nil, err
	}
	needsC := make(map[string]bool)
	var paths []string
	for _, p := range pkgs { // dependencies first
		c := len(p.CgoFiles) > 0 && !p.Standard
		for _, d := range p.Imports {
			c = c || needsC[d]
		}
		needsC[p.ImportPath] = c
		if !c && p.Module != nil && p.Module.Main {
			paths = append(paths, p.ImportPath)
		}
	}
	return paths, nil
}

// list runs go list for goos/goarch with cgo on (test: with the
// packages' tests); packages come dependencies first.
func list(goos, goarch string, patterns []string, test bool) ([]listed, error) {
	args := []string{"list", "-e", "-deps", "-json=ImportPath,Dir,Name,ForTest,GoFiles,CgoFiles,Imports,ImportMap,Standard,Module,Error"}
	if test {
		args = append(args, "-test")
	}
	args = append(args, patterns...)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH="+goarch, "CGO_ENABLED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v: %s", err, stderr.Bytes())
	}
	var pkgs []listed
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, p)
	}
}

// importer finds the packages p imports among those already checked,
// through p's import map (a test variant's imports are variants too).
type importer struct {
	p    listed
	done map[string]*types.Package
}

func (im importer) Import(path string) (*types.Package, error) {
	if path == "unsafe" {
		return types.Unsafe, nil
	}
	if id, ok := im.p.ImportMap[path]; ok {
		path = id
	}
	if pkg := im.done[path]; pkg != nil {
		return pkg, nil
	}
	return nil, fmt.Errorf("%s imports %s, which was not checked before it", im.p.ImportPath, path)
}
