package docs

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// guides returns the Markdown files whose Go blocks must compile: the
// repository's README.md and every .md file of this folder.
func guides(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := filepath.Join("..", "README.md")
	if _, err := os.Stat(readme); err != nil {
		t.Fatalf("the repository's README.md: %v", err)
	}
	files = append(files, readme)
	if len(files) < 2 {
		t.Fatal("no guides found")
	}
	return files
}

// block is one fenced code block of a Markdown file.
type block struct {
	file string
	line int    // of the opening fence, 1-based
	lang string // the first word of the info string
	text string // the content, without the fence's indentation
}

// fenceRE matches an opening or closing fence: up to three spaces (more in
// a list item, which the indentation takes care of), then ``` or ~~~.
var fenceRE = regexp.MustCompile("^([ \t]*)(`{3,}|~{3,})[ \t]*([^ \t`]*)")

// codeBlocks returns the fenced code blocks of a Markdown document.
func codeBlocks(file, doc string) []block {
	var (
		blocks []block
		cur    *block
		indent string
		fence  string
		lines  []string
	)
	sc := bufio.NewScanner(strings.NewReader(doc))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		m := fenceRE.FindStringSubmatch(line)
		if cur == nil {
			if m != nil {
				cur = &block{file: file, line: n, lang: strings.ToLower(m[3])}
				indent, fence, lines = m[1], m[2], nil
			}
			continue
		}
		if m != nil && m[2][0] == fence[0] && len(m[2]) >= len(fence) && m[3] == "" {
			cur.text = strings.Join(lines, "\n")
			blocks = append(blocks, *cur)
			cur = nil
			continue
		}
		lines = append(lines, strings.TrimPrefix(line, indent))
	}
	if cur != nil { // unclosed: runs to the end of the document
		cur.text = strings.Join(lines, "\n")
		blocks = append(blocks, *cur)
	}
	return blocks
}

// trimLines returns text's lines without the blank lines before and after.
func trimLines(text string) []string {
	lines := strings.Split(text, "\n")
	for len(lines) > 0 && strings.TrimSpace(lines[0]) == "" {
		lines = lines[1:]
	}
	for len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// excerptOf reports whether the lines of excerpt are a run of consecutive
// lines of src, each indented in src by the same number of tabs (so that
// a guide may quote the body of a function without its indentation).
// Blank lines match blank lines.
func excerptOf(excerpt []string, src []string) bool {
	if len(excerpt) == 0 {
		return false
	}
	first := excerpt[0]
	for i := 0; i+len(excerpt) <= len(src); i++ {
		// src[i] must be first with some more tabs in front: that many
		// tabs are the prefix every other line must have too.
		prefix, ok := strings.CutSuffix(src[i], first)
		if !ok || strings.Trim(prefix, "\t") != "" {
			continue
		}
		for j, want := range excerpt {
			got := src[i+j]
			if strings.TrimSpace(want) == "" {
				ok = strings.TrimSpace(got) == ""
			} else {
				ok = got == prefix+want
			}
			if !ok {
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// goSources returns the lines of every .go file of this module but this
// one, by path.
func goSources(t *testing.T) map[string][]string {
	t.Helper()
	srcs := map[string][]string{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || strings.HasPrefix(d.Name(), "_") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || path == "docs_test.go" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		srcs[path] = strings.Split(string(b), "\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return srcs
}

// TestGoBlocksCompile checks that every ```go block of the guides and the
// README is an excerpt of a Go file of this module, which the build and
// the tests of the module compile and run. A guide cannot drift from the
// code: change the program, then copy the lines into the guide.
func TestGoBlocksCompile(t *testing.T) {
	srcs := goSources(t)
	paths := make([]string, 0, len(srcs))
	for p := range srcs {
		paths = append(paths, p)
	}
	slices.Sort(paths)

	checked := 0
	for _, file := range guides(t) {
		doc, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range codeBlocks(file, string(doc)) {
			if b.lang != "go" && b.lang != "golang" {
				continue
			}
			checked++
			lines := trimLines(b.text)
			if len(lines) == 0 {
				t.Errorf("%s:%d: empty go block", b.file, b.line)
				continue
			}
			found := slices.ContainsFunc(paths, func(p string) bool { return excerptOf(lines, srcs[p]) })
			if !found {
				t.Errorf("%s:%d: this go block is not an excerpt of any .go file of the docs module "+
					"(copy it from the program it quotes, or fix the program); it starts with:\n\t%s",
					b.file, b.line, lines[0])
			}
		}
	}
	if checked == 0 {
		t.Fatal("no go blocks found: is the Markdown parsing broken?")
	}
	t.Logf("%d go blocks checked against %d Go files", checked, len(srcs))
}

var (
	linkRE       = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	codeSpanRE   = regexp.MustCompile("`[^`]*`")
	generatedDoc = map[string]bool{
		// Written by the benchmark tooling (tools), not by hand; a fresh
		// checkout may not have it yet.
		"performance.md": true,
	}
)

// TestRelativeLinks checks that the guides link to files that exist, with
// relative paths.
func TestRelativeLinks(t *testing.T) {
	for _, file := range guides(t) {
		doc, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		inCode := false
		for n, line := range strings.Split(string(doc), "\n") {
			if fenceRE.MatchString(line) {
				inCode = !inCode
			}
			if inCode {
				continue
			}
			for _, m := range linkRE.FindAllStringSubmatch(codeSpanRE.ReplaceAllString(line, ""), -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				if strings.HasPrefix(target, "/") {
					t.Errorf("%s:%d: link %q: use a relative path", file, n+1, target)
					continue
				}
				path, _, _ := strings.Cut(target, "#")
				full := filepath.Join(filepath.Dir(file), filepath.FromSlash(path))
				if _, err := os.Stat(full); err != nil {
					if generatedDoc[filepath.Base(full)] && inThisFolder(t, full) {
						t.Logf("%s:%d: link %q: not generated yet", file, n+1, target)
						continue
					}
					t.Errorf("%s:%d: link %q: %v", file, n+1, target, err)
				}
			}
		}
	}
}

// TestExamplesAreTested checks that every example program has a test that
// runs it.
// inThisFolder reports whether path is a file of the docs folder itself.
func inThisFolder(t *testing.T, path string) bool {
	t.Helper()
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	return dir == here
}

func TestExamplesAreTested(t *testing.T) {
	mains, err := filepath.Glob(filepath.Join("examples", "*", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	more, err := filepath.Glob(filepath.Join("examples", "*", "*", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	mains = append(mains, more...)
	if len(mains) == 0 {
		t.Fatal("no example programs found")
	}
	for _, m := range mains {
		test := filepath.Join(filepath.Dir(m), "main_test.go")
		if _, err := os.Stat(test); err != nil {
			t.Errorf("%s has no main_test.go", m)
		}
	}
}

func TestCodeBlocks(t *testing.T) {
	doc := strings.Join([]string{
		"text",
		"```go",
		"\tx := 1",
		"```",
		"- item",
		"",
		"  ```sh",
		"  go test ./...",
		"  ```",
		"````go",
		"```",
		"````",
	}, "\n")
	got := codeBlocks("a.md", doc)
	want := []block{
		{file: "a.md", line: 2, lang: "go", text: "\tx := 1"},
		{file: "a.md", line: 7, lang: "sh", text: "go test ./..."},
		{file: "a.md", line: 10, lang: "go", text: "```"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("codeBlocks:\ngot  %+v\nwant %+v", got, want)
	}
}

func TestExcerptOf(t *testing.T) {
	src := strings.Split("package main\n\nfunc f() {\n\tif x {\n\t\ty()\n\t}\n\n\tz()\n}\n", "\n")
	for _, tc := range []struct {
		excerpt string
		want    bool
	}{
		{"func f() {\n\tif x {", true},
		{"if x {\n\ty()\n}", true},           // dedented by one tab
		{"\tif x {\n\t\ty()\n\t}", true},     // as in the file
		{"if x {\n\ty()\n}\n\nz()", true},    // a blank line inside
		{"if x {\n\t\ty()\n}", false},        // inconsistent indentation
		{"if x {\ny()\n}", false},            // a line lost its indentation
		{"y()\nz()", false},                  // not consecutive
		{"x {", false},                       // part of a line
		{"func f() {\n\tif y {", false},      // changed
		{"\t\t\tfunc f() {", false},          // deeper than the file
		{"package main\n\nfunc f() {", true}, // from the top
	} {
		got := excerptOf(trimLines(tc.excerpt), src)
		if got != tc.want {
			t.Errorf("excerptOf(%q) = %v, want %v", tc.excerpt, got, tc.want)
		}
	}
}
