package kiosk_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"tolem/kiosk"
)

// A fault constant added without adding it to Faults would be missing from
// the metrics until a kiosk first reported it, and alert rules on it would
// stay silent.
func TestFaultsListsEveryFault(t *testing.T) {
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	listed := kiosk.Faults()
	fset := token.NewFileSet()
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		{
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, s := range g.Specs {
					v := s.(*ast.ValueSpec)
					if id, ok := v.Type.(*ast.Ident); !ok || id.Name != "Fault" || len(v.Values) != len(v.Names) {
						continue
					}
					for i, n := range v.Names {
						lit, ok := v.Values[i].(*ast.BasicLit)
						if !ok {
							continue
						}
						val, _ := strconv.Unquote(lit.Value)
						if !slices.Contains(listed, kiosk.Fault(val)) {
							t.Errorf("fault %s (%q) is not in kiosk.Faults()", n.Name, val)
						}
					}
				}
			}
		}
	}
	if len(listed) == 0 {
		t.Fatal("no faults listed")
	}
}
