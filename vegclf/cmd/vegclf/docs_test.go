package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// synopsis is one command's synopsis as a help text shows it: where, the command, and its text.
type synopsis struct{ where, command, text string }

// readmeSynopses returns the command lines of the README's command-line block (bin/vegclf COMMAND ...,
// continuation lines joined), without their comments.
func readmeSynopses(t *testing.T) []synopsis {
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, _ := strings.Cut(string(raw), "## The command line\n\n```sh\n")
	block, _, _ = strings.Cut(block, "```")
	var out []synopsis
	for _, line := range strings.Split(block, "\n") {
		line, _, _ = strings.Cut(line, "  #")
		switch {
		case strings.HasPrefix(line, "bin/vegclf "):
			fields := strings.Fields(line)
			out = append(out, synopsis{"README.md", fields[1], line})
		case strings.TrimSpace(line) != "" && len(out) > 0:
			out[len(out)-1].text += " " + strings.TrimSpace(line)
		}
	}
	if len(out) < 15 {
		t.Fatalf("found %d command lines in README.md's command-line block", len(out))
	}
	return out
}

// docSynopses returns the command lines of main.go's package comment.
func docSynopses(t *testing.T) []synopsis {
	raw, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []synopsis
	for _, line := range strings.Split(string(raw), "\n") {
		if text, ok := strings.CutPrefix(line, "//\tvegclf "); ok {
			out = append(out, synopsis{"main.go", strings.Fields(text)[0], text})
		} else if text, ok := strings.CutPrefix(line, "//\t      "); ok && len(out) > 0 {
			out[len(out)-1].text += " " + strings.TrimSpace(text)
		}
	}
	return out
}

// flagDefaults returns the flags of a command and their defaults as its -h prints them ("" where it prints
// none: the zero value), and its usage line.
func flagDefaults(t *testing.T, command string) (map[string]string, string) {
	code, _, stderr := runCLI(t, command, "-h")
	if code != 0 {
		t.Fatalf("%s -h: exit %d\n%s", command, code, stderr)
	}
	defaults := map[string]string{}
	var name string
	usageLine, _, _ := strings.Cut(stderr, "\n")
	defaultRE := regexp.MustCompile(`\(default ("(?:[^"\\]|\\.)*"|[^\s:()][^()]*)\)$`)
	for _, line := range strings.Split(stderr, "\n") {
		switch {
		case strings.HasPrefix(line, "  -"):
			name = strings.Fields(strings.TrimPrefix(line, "  -"))[0]
			defaults[name] = ""
		case strings.HasPrefix(line, "    \t") && name != "":
			if m := defaultRE.FindStringSubmatch(line); m != nil {
				value := m[1]
				if unquoted, err := strconv.Unquote(value); err == nil {
					value = unquoted
				}
				defaults[name] = value
			}
		}
	}
	return defaults, usageLine
}

// sameValue says whether a synopsis value is a flag's default, as text, number or duration ("" for the zero
// value, which prints no default).
func sameValue(shown, def string) bool {
	if shown == def {
		return true
	}
	if def == "" {
		def = "0"
		if shown == "false" {
			return true
		}
	}
	a, errA := strconv.ParseFloat(shown, 64)
	b, errB := strconv.ParseFloat(def, 64)
	if errA == nil && errB == nil {
		return a == b
	}
	da, errA := time.ParseDuration(shown)
	db, errB := time.ParseDuration(def)
	return errA == nil && errB == nil && da == db
}

// TestSynopsisDefaults: every value a synopsis shows for a flag ([--topk 5]) is that flag's default, in
// README.md's command-line block, main.go's package comment and each command's usage line; the flags they
// name exist. Placeholders (N, DIR, LO:HI) and alternatives (half|imagenet) are not values.
func TestSynopsisDefaults(t *testing.T) {
	all := append(readmeSynopses(t), docSynopses(t)...)
	defaults := map[string]map[string]string{}
	for name := range commands {
		var usage string
		defaults[name], usage = flagDefaults(t, name)
		text, ok := strings.CutPrefix(usage, "usage: vegclf "+name+" ")
		if !ok {
			t.Errorf("%s -h: usage line %q does not name the command", name, usage)
		}
		all = append(all, synopsis{name + " -h", name, text})
	}
	flagValue := regexp.MustCompile(`(?:^|[\[|(\s])--([a-z][a-z0-9-]*)(?:[ =]([^\s\]\[()]+))?`)
	optional := regexp.MustCompile(`\[[^\[\]]*\]`)
	for _, s := range all {
		flags, ok := defaults[s.command]
		if !ok {
			t.Errorf("%s: unknown command %q", s.where, s.command)
			continue
		}
		// Values of optional flags, [--flag VALUE], are defaults; a required flag's value is an example.
		inBrackets := map[int]bool{}
		for _, span := range optional.FindAllStringIndex(s.text, -1) {
			for i := span[0]; i < span[1]; i++ {
				inBrackets[i] = true
			}
		}
		for _, m := range flagValue.FindAllStringSubmatchIndex(s.text, -1) {
			name, value := s.text[m[2]:m[3]], ""
			if m[4] >= 0 && inBrackets[m[4]] {
				value = s.text[m[4]:m[5]]
			}
			def, ok := flags[name]
			if !ok && s.command == "sweep" && name != "grid" {
				def, ok = defaults["train"][name] // A sweep takes the train flags.
			}
			if !ok && s.command == "version" && name == "version" {
				continue // vegclf --version.
			}
			if !ok {
				t.Errorf("%s: vegclf %s has no flag --%s (%s)", s.where, s.command, name, s.text)
				continue
			}
			if value == "" || strings.HasPrefix(value, "-") || strings.Contains(value, "|") || strings.ContainsAny(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") || strings.HasSuffix(value, "...") {
				continue // A boolean flag, a placeholder or alternatives.
			}
			if !sameValue(value, def) {
				t.Errorf("%s: vegclf %s shows [--%s %s], its default is %q", s.where, s.command, name, value, def)
			}
		}
	}
}

// TestReadmeNamesEveryTrainFlag: the README's train synopses name every flag of train.
func TestReadmeNamesEveryTrainFlag(t *testing.T) {
	var text string
	for _, s := range readmeSynopses(t) {
		if s.command == "train" {
			text += " " + s.text
		}
	}
	flags, _ := flagDefaults(t, "train")
	for name := range flags {
		if !regexp.MustCompile(`--` + name + `(?:[ =\]]|$)`).MatchString(text) {
			t.Errorf("README.md's train synopsis lacks --%s", name)
		}
	}
}

// TestDocumentedIdentifiersExist: the Go names the README and the scripts give as package.Name (in
// backquotes or parentheses) exist in that package of vegclf/.
func TestDocumentedIdentifiersExist(t *testing.T) {
	root := testenv.RepoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "scripts", "*.sh"))
	files = append(files, filepath.Join(root, "README.md"))
	ref := regexp.MustCompile("[`(]([a-z][a-z0-9]*)\\.([A-Z][A-Za-z0-9]*)")
	declared := map[string]map[string]bool{}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ref.FindAllStringSubmatch(string(raw), -1) {
			pkg, name := m[1], m[2]
			dir := filepath.Join(root, "vegclf", pkg)
			if _, err := os.Stat(dir); err != nil {
				continue // Not one of vegclf's packages (torch.onnx, ...).
			}
			if declared[pkg] == nil {
				declared[pkg] = declarations(t, dir)
			}
			if !declared[pkg][name] {
				t.Errorf("%s names %s.%s, which package %s does not declare", filepath.Base(file), pkg, name, pkg)
			}
		}
	}
}

// declarations returns the top-level names the Go files of the package in dir declare (tests left out).
func declarations(t *testing.T, dir string) map[string]bool {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	names := map[string]bool{}
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					names[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						names[s.Name.Name] = true
					case *ast.ValueSpec:
						for _, n := range s.Names {
							names[n.Name] = true
						}
					}
				}
			}
		}
	}
	return names
}
