package docscheck

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReadmePackageMapNamesEveryControllersPackage fails when a directory
// under controllers/ (controllers/internal/ included) that holds Go files
// has no row in README.md's package map, or when a row names a package
// that no longer exists.
func TestReadmePackageMapNamesEveryControllersPackage(t *testing.T) {
	root := repoRoot(t)
	pkgs := controllersPackages(t, root)
	rows := readmePackageRows(t, root)
	for _, p := range pkgs {
		if !slices.Contains(rows, p) {
			t.Errorf("README.md, \"## Development\": the package map has no row for controllers/%s; add \"| `%s` | what it owns |\"", p, p)
		}
	}
	for _, r := range rows {
		if strings.HasPrefix(r, "cmd/") {
			continue // the row for the kubectl plugin, not under controllers/
		}
		if !slices.Contains(pkgs, r) {
			t.Errorf("README.md, \"## Development\": the package map has a row for `%s`, but controllers/%s holds no Go package", r, r)
		}
	}
}

// TestSetupPackageCommentNamesEveryControllersPackage: the package comment
// of controllers (setup.go) carries the same map in short.
func TestSetupPackageCommentNamesEveryControllersPackage(t *testing.T) {
	root := repoRoot(t)
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "controllers", "setup.go"), nil, parser.PackageClauseOnly|parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	if f.Doc == nil {
		t.Fatal("controllers/setup.go has no package comment")
	}
	doc := f.Doc.Text()
	for _, p := range controllersPackages(t, root) {
		// Named as a list entry: "name:", "name," or "name (...)".
		if !regexp.MustCompile(`(^|[\s,])` + regexp.QuoteMeta(p) + `(:|,| \()`).MatchString(doc) {
			t.Errorf("controllers/setup.go: the package comment does not name %s (as \"%s: ...\" or \"%s (...)\")", p, p, p)
		}
	}
}

// controllersPackages lists the directories below controllers/ that hold
// Go files, relative to it ("artifacts", "internal/text", ...).
func controllersPackages(t *testing.T, root string) []string {
	t.Helper()
	base := filepath.Join(root, "controllers")
	var pkgs []string
	err := filepath.WalkDir(base, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		dir, err := filepath.Rel(base, filepath.Dir(path))
		if err != nil {
			return err
		}
		if dir = filepath.ToSlash(dir); dir != "." && !slices.Contains(pkgs, dir) && !strings.Contains("/"+dir+"/", "/testdata/") {
			pkgs = append(pkgs, dir)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) == 0 {
		t.Fatalf("no packages under %s", base)
	}
	return pkgs
}

// readmePackageRows returns the first cell of each row of the package map
// in README.md's "## Development" section: "| `name` | ... |".
func readmePackageRows(t *testing.T, root string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Development\n")
	if !ok {
		t.Fatal(`README.md has no "## Development" section`)
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)`")
	var rows []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		rows = append(rows, m[1])
	}
	if len(rows) == 0 {
		t.Fatal(`README.md, "## Development": no package map ("| ` + "`package`" + ` | owns |" rows)`)
	}
	return rows
}

// repoRoot is the directory holding go.mod, above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}
