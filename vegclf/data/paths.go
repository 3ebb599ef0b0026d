package data

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Input is an image file named on a command line, and the class folder it was found under, if any.
type Input struct {
	Path string
	// Class is the name of the class folder the file is in: for a folder named as an argument, the root of
	// class folders as ImageFolder takes it, the first folder below it ("DIR/carrot/deep/x.jpg" given
	// "DIR": "carrot"), or its own name for files at its top; for a folder a pattern matched ("DIR/*"),
	// a class folder, its own name; for a file, its folder's name. Whether it is a class is for the caller
	// to say.
	Class string
}

// ExpandInputs turns file, folder and glob arguments into image files, in the arguments' order: a file is
// kept as it is (its content decides whether it is an image); a folder gives every image file inside it,
// recursively and in sorted order, following links and skipping hidden files, as ImageFolder lists them; a
// pattern with *, ? or [ gives its matches (filepath.Glob), sorted, each a file or a folder. A folder or
// pattern with no image is an error naming it, and so is a path that does not exist.
func ExpandInputs(args []string) ([]Input, error) {
	var out []Input
	for _, arg := range args {
		paths := []string{arg}
		pattern := strings.ContainsAny(arg, "*?[")
		if pattern {
			matches, err := filepath.Glob(arg)
			if err != nil {
				return nil, fmt.Errorf("pattern %q: %w", arg, err)
			}
			if len(matches) == 0 {
				return nil, fmt.Errorf("no file matches %q", arg)
			}
			slices.Sort(matches)
			paths = matches
		}
		before := len(out)
		for _, p := range paths {
			info, err := os.Stat(p)
			if err != nil {
				return nil, fmt.Errorf("image %w", err)
			}
			if !info.IsDir() {
				out = append(out, Input{Path: p, Class: filepath.Base(filepath.Dir(filepath.Clean(p)))})
				continue
			}
			var files []string
			if err := walkFollowingLinks(p, func(path string) {
				if IsImageFile(path) {
					files = append(files, path)
				}
			}); err != nil {
				return nil, err
			}
			slices.Sort(files)
			for _, f := range files {
				in := Input{Path: f, Class: filepath.Base(filepath.Clean(p))}
				if rel, err := filepath.Rel(p, f); err == nil && !pattern {
					if class, _, nested := strings.Cut(filepath.ToSlash(rel), "/"); nested {
						in.Class = class
					}
				}
				out = append(out, in)
			}
		}
		if len(out) == before {
			return nil, fmt.Errorf("no image files in %s", arg)
		}
	}
	return out, nil
}
