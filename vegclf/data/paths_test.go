package data

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExpandInputs(t *testing.T) {
	dir := t.TempDir()
	var encoded bytes.Buffer
	if err := png.Encode(&encoded, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"val/carrot/b.png", "val/carrot/a.png", "val/carrot/deep/c.png", "val/bean/x.png",
		"val/bean/.hidden.png", "val/bean/notes.txt", "val/top.png", "loose/one.png", "empty/readme.txt"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, encoded.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	j := func(name string) string { return filepath.Join(dir, name) }
	for _, tc := range []struct {
		name    string
		args    []string
		want    []Input
		wantErr string
	}{
		{"a file, as given", []string{j("loose/one.png")}, []Input{{j("loose/one.png"), "loose"}}, ""},
		{"a folder of class folders, recursive and sorted, no hidden or non-image files", []string{j("val")}, []Input{
			{j("val/bean/x.png"), "bean"}, {j("val/carrot/a.png"), "carrot"}, {j("val/carrot/b.png"), "carrot"},
			{j("val/carrot/deep/c.png"), "carrot"}, {j("val/top.png"), "val"}}, ""},
		{"a class folder", []string{j("val/carrot/deep")}, []Input{{j("val/carrot/deep/c.png"), "deep"}}, ""},
		{"a pattern of class folders", []string{j("val/*")}, []Input{
			{j("val/bean/x.png"), "bean"}, {j("val/carrot/a.png"), "carrot"}, {j("val/carrot/b.png"), "carrot"},
			{j("val/carrot/deep/c.png"), "carrot"}, {j("val/top.png"), "val"}}, ""},
		{"a pattern of files, in the arguments' order", []string{j("loose/*.png"), j("val/carrot/?.png")}, []Input{
			{j("loose/one.png"), "loose"}, {j("val/carrot/a.png"), "carrot"}, {j("val/carrot/b.png"), "carrot"}}, ""},
		{"no match", []string{j("val/*.jpg")}, nil, "no file matches"},
		{"a folder without images", []string{j("empty")}, nil, "no image files in " + j("empty")},
		{"a missing file", []string{j("nope.png")}, nil, "nope.png: no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ExpandInputs(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("[%d] = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
