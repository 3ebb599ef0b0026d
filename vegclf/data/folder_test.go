package data

import (
	"errors"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/internal/testenv"
)

// writePNG writes a small solid-color PNG.
func writePNG(t *testing.T, path string, c color.Color) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	img := image.NewNRGBA(image.Rect(0, 0, 8, 6))
	for y := 0; y < 6; y++ {
		for x := 0; x < 8; x++ {
			img.Set(x, y, c)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestOpenDiscoversClassesAndSplits(t *testing.T) {
	root := t.TempDir()
	red := color.NRGBA{255, 0, 0, 255}
	for _, p := range []string{
		"train/tomato/b.png", "train/tomato/a.png", "train/Bean/x.png", "train/carrot/sub/deep.png",
		"test/tomato/t.png", "test/Bean/t.png", "test/carrot/t.png",
		"val/tomato/v.png", "val/Bean/v.png", "val/carrot/v.png",
	} {
		writePNG(t, filepath.Join(root, p), red)
	}
	// Files and folders that are not samples.
	writePNG(t, filepath.Join(root, "train/tomato/.hidden.png"), red)
	writePNG(t, filepath.Join(root, "train/tomato/._a.png"), red)
	os.WriteFile(filepath.Join(root, "train/tomato/notes.txt"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(root, "train/.DS_Store"), []byte("x"), 0o644)
	os.MkdirAll(filepath.Join(root, "train/.git"), 0o755)
	// A symlinked class member folder is followed.
	os.Symlink(filepath.Join(root, "test/tomato"), filepath.Join(root, "train/tomato/linked"))

	f, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"Bean", "carrot", "tomato"}; !slices.Equal(f.Classes, want) {
		t.Errorf("classes = %q, want %q (sorted by bytes, as Python's sorted)", f.Classes, want)
	}
	train, err := f.Split(Train)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range train.Samples {
		rel, _ := filepath.Rel(root, s.Path)
		got = append(got, rel+":"+f.Classes[s.Label])
	}
	want := []string{
		"train/Bean/x.png:Bean", "train/carrot/sub/deep.png:carrot",
		"train/tomato/a.png:tomato", "train/tomato/b.png:tomato", "train/tomato/linked/t.png:tomato",
	}
	if !slices.Equal(got, want) {
		t.Errorf("train samples = %q, want %q", got, want)
	}
	if c := train.Counts(3); !slices.Equal(c, []int{1, 1, 3}) {
		t.Errorf("counts = %v", c)
	}
	val, err := f.Split(Validation)
	if err != nil {
		t.Fatalf("val/ should be accepted as the validation split: %v", err)
	}
	if len(val.Samples) != 3 || !strings.HasSuffix(val.Dir, "val") {
		t.Errorf("validation split = %+v", val)
	}
}

func TestOpenErrors(t *testing.T) {
	red := color.NRGBA{255, 0, 0, 255}
	for _, tc := range []struct {
		name  string
		files []string
		want  string
	}{
		{"no train", []string{"test/a/x.png"}, "no train/ folder"},
		{"no classes", []string{"train/x.png"}, "has no class folders"},
		{"test lacks a class", []string{"train/a/x.png", "train/b/x.png", "test/a/x.png"}, `split test (`},
		{"validation has an extra class", []string{"train/a/x.png", "validation/a/x.png", "validation/zz/x.png"}, `classes not in train: "zz"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for _, p := range tc.files {
				writePNG(t, filepath.Join(root, p), red)
			}
			_, err := Open(root)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	t.Run("missing split", func(t *testing.T) {
		root := t.TempDir()
		writePNG(t, filepath.Join(root, "train/a/x.png"), red)
		f, err := Open(root)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.Split(Test)
		if !errors.Is(err, ErrNoSplit) || !strings.Contains(err.Error(), "no test/ folder") {
			t.Errorf("Split(Test) error = %v", err)
		}
		if f.HasSplit(Test) {
			t.Error("HasSplit(Test) = true")
		}
	})
	t.Run("missing class named", func(t *testing.T) {
		root := t.TempDir()
		for _, p := range []string{"train/a/x.png", "train/b/x.png", "test/a/x.png"} {
			writePNG(t, filepath.Join(root, p), red)
		}
		_, err := Open(root)
		if err == nil || !strings.Contains(err.Error(), `classes missing: "b"`) {
			t.Errorf("error = %v", err)
		}
	})
}

func TestOpenRealPhotos(t *testing.T) {
	root := testenv.SharedData(t, "hymenoptera")
	f, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.Classes, []string{"ants", "bees"}) {
		t.Fatalf("classes = %q", f.Classes)
	}
	wantCounts := map[string][]int{Train: {124, 121}, Validation: {70, 83}}
	for name, want := range wantCounts {
		s, err := f.Split(name)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Counts(2); !slices.Equal(got, want) {
			t.Errorf("%s counts = %v, want %v", name, got, want)
		}
	}
	if f.HasSplit(Test) {
		t.Error("hymenoptera has no test split")
	}
	// Every file decodes to the right shape, whatever its real format (one .jpg is a GIF).
	tf := Transform{Size: 32, Normalization: ImageNetNormalization}
	for _, name := range []string{Train, Validation} {
		s, err := f.Split(name)
		if err != nil {
			t.Fatal(err)
		}
		l := &Loader{Samples: s.Samples, Transform: tf, BatchSize: 64}
		n := 0
		for b, err := range l.Epoch(0) {
			if err != nil {
				t.Fatal(err)
			}
			if dims := b.Images.Shape().Dimensions; !slices.Equal(dims, []int{len(b.Labels), 32, 32, 3}) {
				t.Fatalf("batch shape %v", dims)
			}
			n += len(b.Labels)
		}
		if n != len(s.Samples) {
			t.Errorf("%s: loaded %d of %d images", name, n, len(s.Samples))
		}
	}
}

func TestOpenSplit(t *testing.T) {
	root := t.TempDir()
	red := color.NRGBA{255, 0, 0, 255}
	for _, p := range []string{"a/1.png", "b/1.png", "b/2.png"} {
		writePNG(t, filepath.Join(root, p), red)
	}
	s, err := OpenSplit("eval", root, []string{"a", "b"})
	if err != nil || len(s.Samples) != 3 || s.Samples[2].Label != 1 {
		t.Fatalf("OpenSplit = %+v, %v", s, err)
	}
	if _, err := OpenSplit("eval", root, []string{"a", "b", "c"}); err == nil || !strings.Contains(err.Error(), `classes missing: "c"`) {
		t.Errorf("error = %v", err)
	}
	if _, err := OpenSplit("eval", filepath.Join(root, "nope"), []string{"a"}); err == nil {
		t.Error("a missing folder should be an error")
	}
}
