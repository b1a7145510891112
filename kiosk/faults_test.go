package kiosk_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"strconv"
	"testing"

	"tolem/kiosk"
)

// A fault constant added without adding it to Faults would be missing from
// the metrics until a kiosk first reported it, and alert rules on it would
// stay silent.
func TestFaultsListsEveryFault(t *testing.T) {
	pkgs, err := parser.ParseDir(token.NewFileSet(), ".", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	listed := kiosk.Faults()
	for _, p := range pkgs {
		for _, f := range p.Files {
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
