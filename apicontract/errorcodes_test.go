package apicontract_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDocsErrorTableListsEveryCode: the table of error answers of
// docs/http-api.md names every code the HTTP, admin and queue APIs can answer, and
// no other. The codes are read from the source: the Code* constants, the
// Code fields of Error literals, and error bodies written out as JSON.
func TestDocsErrorTableListsEveryCode(t *testing.T) {
	inCode := map[string]string{} // code -> where
	rawCode := regexp.MustCompile(`"code":"([a-z_]+)"`)
	for _, dir := range []string{".", "../httpapi", "../admin", "../queue"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				var key ast.Expr
				var value ast.Expr
				switch n := n.(type) {
				case *ast.ValueSpec:
					if len(n.Names) == 1 && len(n.Values) == 1 && strings.HasPrefix(n.Names[0].Name, "Code") {
						key, value = n.Names[0], n.Values[0]
					}
				case *ast.KeyValueExpr:
					if id, ok := n.Key.(*ast.Ident); ok && id.Name == "Code" {
						key, value = n.Key, n.Value
					}
				case *ast.BasicLit:
					if n.Kind == token.STRING {
						s, _ := strconv.Unquote(n.Value)
						for _, m := range rawCode.FindAllStringSubmatch(s, -1) {
							inCode[m[1]] = fset.Position(n.Pos()).String()
						}
					}
				}
				if lit, ok := value.(*ast.BasicLit); ok && key != nil && lit.Kind == token.STRING {
					s, _ := strconv.Unquote(lit.Value)
					inCode[s] = fset.Position(lit.Pos()).String()
				}
				return true
			})
		}
	}
	if len(inCode) < 10 {
		t.Fatalf("found only %d codes in the source: %v", len(inCode), inCode)
	}

	page, err := os.ReadFile("../docs/http-api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(page), "\n| status | code | when |\n")
	if !ok {
		t.Fatal("docs/http-api.md has no table of error answers (| status | code | when |)")
	}
	table, _, _ = strings.Cut(table, "\n\n")
	inTable := map[string]bool{}
	backticked := regexp.MustCompile("`([a-z_]+)`")
	for row := range strings.SplitSeq(table, "\n") {
		cells := strings.Split(row, "|")
		if len(cells) < 4 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") {
			continue
		}
		for _, m := range backticked.FindAllStringSubmatch(cells[2], -1) {
			inTable[m[1]] = true
		}
	}
	for _, code := range slices.Sorted(maps.Keys(inCode)) {
		if !inTable[code] {
			t.Errorf("code %q (%s) is not in the table of error answers of docs/http-api.md", code, inCode[code])
		}
	}
	for code := range inTable {
		if _, ok := inCode[code]; !ok {
			t.Errorf("the table of error answers of docs/http-api.md lists %q, which no code answers", code)
		}
	}
}
