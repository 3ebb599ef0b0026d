package recipe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vegclf/vegclf/vegclf/schedule"
)

func TestReadConfigFile(t *testing.T) {
	dir := t.TempDir()
	saved := Default()
	saved.Data, saved.Arch, saved.Batch, saved.LR, saved.Schedule = "/data/veg", "resnet18", 8, 3e-4, schedule.KindCosine
	if b, err := json.Marshal(saved); err != nil || os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644) != nil {
		t.Fatal(err)
	}
	withBatch := func(c Config, b int) Config { c.Batch = b; return c }
	for _, tc := range []struct {
		name, file, content string
		want                Config
		wantErr             string
	}{
		{"YAML over the defaults", "a.yaml", "data: /data/veg\narch: resnet18\nbatch: 8\nlr: 3e-4\nschedule: cosine\n", saved, ""},
		{"JSON", "b.json", `{"data": "/data/veg", "arch": "resnet18", "batch": 8, "lr": 0.0003, "schedule": "cosine"}`, saved, ""},
		{"a run's config.json", "config.json", "", saved, ""},
		{"empty: the base", "empty.yaml", "", Default(), ""},
		{"partial", "p.yaml", "batch: 4\n", withBatch(Default(), 4), ""},
		{"unknown key", "u.yaml", "image_szie: 64\n", Config{}, `unknown setting "image_szie" (did you mean "image_size"?)`},
		{"flag name for a key", "f.yaml", "finetune-lr: 1e-5\n", Config{}, `unknown setting "finetune-lr" (did you mean "finetune_lr"?)`},
		{"wrong type", "w.yaml", "batch: sixteen\n", Config{}, "cannot unmarshal string into Go struct field Config.batch of type int"},
		{"not YAML", "n.yaml", "batch: [1,\n", Config{}, "reading config"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			if tc.content != "" || tc.file != "config.json" {
				if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := ReadFile(path, Default())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("error %v, want the file and %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diffs := Differences(tc.want, got); len(diffs) > 0 {
				t.Errorf("differences from the expected config: %v", diffs)
			}
		})
	}
}
