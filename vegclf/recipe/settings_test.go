package recipe

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestSettingsDeclareEveryField checks that settings declares each of Config's fields once, in its order,
// under the field's config.json key, bound to that field, with a help line: a field without its entry
// would have no flag, no config-file key and no place in a resume's or a sweep's checks.
func TestSettingsDeclareEveryField(t *testing.T) {
	ct := reflect.TypeFor[Config]()
	if len(settings) != ct.NumField() {
		t.Fatalf("%d settings for %d fields of Config", len(settings), ct.NumField())
	}
	var c Config
	base := reflect.ValueOf(&c).Elem()
	for i, s := range settings {
		f := ct.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if s.key != key {
			t.Errorf("setting %d is %q, Config's field %s is %q", i, s.key, f.Name, key)
		}
		if reflect.ValueOf(s.field(&c)).Pointer() != base.Field(i).Addr().Pointer() {
			t.Errorf("setting %s is bound to another field than %s", s.key, f.Name)
		}
		if s.help == "" {
			t.Errorf("setting %s has no help", s.key)
		}
	}
}

// TestFromScratch checks that FromScratch sets its settings but those kept, and that FromScratchSettings
// writes the values it sets.
func TestFromScratch(t *testing.T) {
	c := Default()
	FromScratch(&c, func(key string) bool { return key == "batch" })
	if c.Arch != "resnet18" || c.Weights != "none" || c.ImageSize != 64 || c.LR != 1e-3 || c.FinetuneLR != 1e-3 ||
		c.FrozenEpochs != 1 || c.FinetuneEpochs != 6 || c.Batch != Default().Batch {
		t.Errorf("from scratch, batch kept: %+v", c)
	}
	if c.Hidden != Default().Hidden || c.Normalization != Default().Normalization {
		t.Errorf("FromScratch changed a setting it has no value of: %+v", c)
	}
	for _, want := range []string{"arch resnet18", "weights none", "image_size 64", "batch 8", "lr 0.001", "finetune_epochs 6"} {
		if !strings.Contains(FromScratchSettings(), want) {
			t.Errorf("FromScratchSettings %q lacks %q", FromScratchSettings(), want)
		}
	}
}

// TestResumeMayChange: the settings that change how a run runs may change on resume, those that change what
// it computes may not, nor an unknown key.
func TestResumeMayChange(t *testing.T) {
	for key, want := range map[string]bool{"strict": true, "cache_features": true, "image_cache_mb": true, "memory_limit": true,
		"devices": true, "checkpoint_every": true, "lr": false, "data": false, "batch": false, "no_such_setting": false} {
		if got := ResumeMayChange(key); got != want {
			t.Errorf("ResumeMayChange(%s) = %v, want %v", key, got, want)
		}
	}
}

// TestAllSettings: every key, those config.json leaves out at their zero values included, as JSON values.
func TestAllSettings(t *testing.T) {
	c := Default()
	c.LabelSmoothing = 0.1
	all, err := c.AllSettings()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(Keys()) || all["label_smoothing"] != 0.1 || all["mixup"] != 0.0 || all["class_weights"] != "none" || all["arch"] != "resnet50" {
		t.Errorf("all settings: %v", all)
	}
}

// TestNoteTakesEveryPath follows the note setting, declared by its field and entry alone, through what reads
// the table: its flag, a config file's key, a resume's changeable settings and the runs table's settings.
func TestNoteTakesEveryPath(t *testing.T) {
	c := Default()
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--note", "with EMA"}); err != nil || c.Note != "with EMA" {
		t.Errorf("--note gave %q, %v", c.Note, err)
	}
	if key, ok := KeyOfFlag("note"); !ok || key != "note" {
		t.Errorf("KeyOfFlag(note) = %q, %v", key, ok)
	}
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("note: baseline\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if read, err := ReadFile(path, Default()); err != nil || read.Note != "baseline" {
		t.Errorf("config file gave %q, %v", read.Note, err)
	}
	if !ResumeMayChange("note") {
		t.Error("a resume may not change the note")
	}
	if all, err := c.AllSettings(); err != nil || all["note"] != "with EMA" {
		t.Errorf("all settings' note: %v, %v", all["note"], err)
	}
	if diffs := Differences(Default(), c); len(diffs) != 1 || diffs[0].Key != "note" {
		t.Errorf("differences %v, want the note's", diffs)
	}
}
