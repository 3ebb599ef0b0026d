package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/kaggle"
	"github.com/vegclf/vegclf/vegclf/kaggle/kaggletest"
)

// TestDataGet: vegclf data get downloads a Kaggle dataset through a stand-in of Kaggle's API (found
// with $VEGCLF_KAGGLE_API or --api) into data/DATASET or --out, prints the --data to use, and does
// nothing the second time; usage mistakes exit 2, a failed download 1 with what to check.
func TestDataGet(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	for _, v := range []string{kaggle.ConfigDirEnv, "XDG_CONFIG_HOME"} {
		t.Setenv(v, "")
	}
	t.Setenv(kaggle.UsernameEnv, "alice")
	t.Setenv(kaggle.KeyEnv, "s3cret")
	srv := kaggletest.New("alice", "s3cret")
	defer srv.Close()
	srv.Add("misrakahmed", "vegetable-image-dataset", kaggletest.ImageFolderZip("Vegetable Images", []string{"Bean", "Carrot"}, 2, 1000))
	srv.Add("someone", "tables", kaggletest.Zip(kaggletest.Entry{Name: "table.csv", Body: "a,b\n"}))
	t.Setenv(kaggle.APIEnv, srv.BaseURL())
	t.Chdir(t.TempDir())
	cwd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	const spec = "kaggle:misrakahmed/vegetable-image-dataset"
	veg := "'" + filepath.Join("data", "vegetable-image-dataset", "Vegetable Images") + "'"

	for _, tc := range []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		wantStdout []string
		wantStderr []string
	}{
		{"first", []string{"data", "get", spec}, nil, 0,
			[]string{spec + ": data/vegetable-image-dataset/Vegetable Images (2 classes; 4 train, 4 test, 4 validation images)\n", "--data " + veg + "\n",
				"vegclf train --data " + veg + " --out runs/vegetable-image-dataset\n", "VEGCLF_DATA='" + filepath.Join(cwd, "data", "vegetable-image-dataset", "Vegetable Images") + "'\n"},
			[]string{"downloading " + spec, "(100%)", "unpacked"}},
		{"again", []string{"data", "get", spec}, map[string]string{kaggle.KeyEnv: ""}, 0,
			[]string{"--data " + veg + "\n"}, []string{"is already in data/vegetable-image-dataset", "nothing to download"}},
		{"--out, --api", []string{"data", "get", "--out", "elsewhere", spec, "--api", srv.BaseURL()}, map[string]string{kaggle.APIEnv: "http://127.0.0.1:1/nothing"}, 0,
			[]string{"--data 'elsewhere/Vegetable Images'\n"}, nil},
		{"no ImageFolder", []string{"data", "get", "kaggle:someone/tables"}, nil, 0,
			[]string{"kaggle:someone/tables is in data/tables, with no ImageFolder dataset", "--labels FILE.csv"}, nil},
		{"unknown dataset", []string{"data", "get", "kaggle:misrakahmed/nope"}, nil, 1,
			nil, []string{"404 Not Found", "check the owner and the dataset's name", "https://www.kaggle.com/datasets/misrakahmed/nope"}},
		{"wrong key", []string{"data", "get", spec, "--out", "other"}, map[string]string{kaggle.KeyEnv: "nope"}, 1,
			nil, []string{"401 Unauthorized", "check the user name and key"}},
		{"no token", []string{"data", "get", spec, "--out", "other"}, map[string]string{kaggle.UsernameEnv: "", kaggle.KeyEnv: ""}, 1,
			nil, []string{"KAGGLE_USERNAME and KAGGLE_KEY", filepath.Join(home, ".kaggle", "kaggle.json")}},
		{"no subcommand", []string{"data"}, nil, 2, nil, []string{"want a subcommand: get kaggle:OWNER/DATASET"}},
		{"unknown subcommand", []string{"data", "fetch", spec}, nil, 2, nil, []string{`unknown data subcommand "fetch"`}},
		{"no dataset", []string{"data", "get"}, nil, 2, nil, []string{"get takes one dataset"}},
		{"two datasets", []string{"data", "get", spec, spec}, nil, 2, nil, []string{"get takes one dataset"}},
		{"bad spec", []string{"data", "get", "misrakahmed/vegetable-image-dataset"}, nil, 2, nil, []string{"want kaggle:OWNER/DATASET"}},
		{"bad flag", []string{"data", "get", spec, "--bogus"}, nil, 2, nil, []string{"-bogus"}},
		{"help", []string{"data", "-h"}, nil, 0, nil, []string{"usage: vegclf data get kaggle:OWNER/DATASET"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, stdout, stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout does not say %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q:\n%s", w, stderr)
				}
			}
		})
	}
	if _, err := os.Stat(filepath.Join("other")); err == nil {
		t.Error("a failed download left its folder")
	}
}
