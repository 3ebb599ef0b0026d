package checkpoint

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/weights"
)

func newMeta() Meta {
	return Meta{Arch: "resnet18", Head: nn.TutorialHead(3), Classes: []string{"a", "b", "c"}, ImageSize: 32,
		Normalization: data.HalfNormalization, Phase: "finetune", Epoch: 2, Step: 14, TestAccuracy: 0.75, BestAccuracy: 0.8}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	meta := newMeta()
	m, _ := meta.Model()
	store := model.NewStore()
	if err := m.Init(store, 4, nil); err != nil {
		t.Fatal(err)
	}
	// Optimizer state rides along.
	store.CreateVariable("/optimizer/finetune/m/fc/0/weight", tensors.FromValue([]float32{1, 2, 3}))
	path := filepath.Join(t.TempDir(), "x.ckpt")
	if err := Save(path, store, meta); err != nil {
		t.Fatal(err)
	}
	got, gotMeta, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if gotMeta.Phase != "finetune" || gotMeta.Epoch != 2 || gotMeta.Step != 14 || gotMeta.Version != FormatVersion ||
		!slices.Equal(gotMeta.Classes, meta.Classes) || gotMeta.Normalization != data.HalfNormalization {
		t.Errorf("meta = %+v", gotMeta)
	}
	for v := range store.IterVariables() {
		w := got.GetVariable(v.Path())
		if w == nil {
			t.Fatalf("variable %s lost", v.Path())
		}
		if !v.MustValue().Equal(w.MustValue()) {
			t.Errorf("variable %s changed", v.Path())
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// TestSaveModel: a lean checkpoint keeps the model's variables (weights and batch-norm statistics) as they
// are and drops the rest of the store (optimizer moments, a weight average); it loads as a full one does.
func TestSaveModel(t *testing.T) {
	meta := newMeta()
	m, _ := meta.Model()
	store := model.NewStore()
	if err := m.Init(store, 4, nil); err != nil {
		t.Fatal(err)
	}
	for _, extra := range []string{"/optimizer/finetune/m/fc/0/weight", "/ema/fc/0/weight"} {
		if _, err := store.CreateVariable(extra, tensors.FromValue([]float32{1, 2, 3})); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "best.ckpt")
	if err := SaveModel(path, store, meta); err != nil {
		t.Fatal(err)
	}
	got, _, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for v := range got.IterVariables() {
		kept++
		if !v.MustValue().Equal(store.GetVariable(v.Path()).MustValue()) {
			t.Errorf("variable %s changed", v.Path())
		}
	}
	if kept != len(m.Params()) {
		t.Errorf("the lean checkpoint holds %d variables, want the model's %d", kept, len(m.Params()))
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	meta := newMeta()
	m, _ := meta.Model()
	store := model.NewStore()
	m.Init(store, 4, nil)
	good := filepath.Join(dir, "good.ckpt")
	if err := Save(good, store, meta); err != nil {
		t.Fatal(err)
	}
	content, _ := os.ReadFile(good)

	plain := filepath.Join(dir, "plain.safetensors")
	sd, _ := weights.FromStore(store, m)
	weights.WriteSafetensors(plain, sd)

	oldMeta := newMeta()
	oldMeta.Classes = []string{"a", "b"} // Two names for a head of three.
	mismatch := filepath.Join(dir, "mismatch.ckpt")
	Save(mismatch, store, oldMeta)

	otherArch := newMeta()
	otherArch.Arch = "resnet34"
	wrongArch := filepath.Join(dir, "wrongarch.ckpt")
	Save(wrongArch, store, otherArch)

	versioned := filepath.Join(dir, "v0.ckpt")
	// The metadata is JSON inside a JSON string: its quotes are escaped. Same length, same header size.
	older := strings.Replace(string(content), `\"version\":1`, `\"version\":0`, 1)
	if older == string(content) {
		t.Fatal("version field not found in the checkpoint")
	}
	os.WriteFile(versioned, []byte(older), 0o644)
	truncated := filepath.Join(dir, "truncated.ckpt")
	os.WriteFile(truncated, content[:len(content)/3], 0o644)

	for _, tc := range []struct {
		path, want string
	}{
		{plain, "not a vegclf checkpoint"},
		{mismatch, "2 class names for a head with 3 outputs"},
		{wrongArch, `variable "layer1.2.conv1.weight" is missing`},
		{versioned, "format version 0"},
		{truncated, "outside the data"},
		{filepath.Join(dir, "none.ckpt"), "no such file"},
	} {
		_, _, err := Load(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Base(tc.path)) {
			t.Errorf("Load(%s) = %v, want the file and %q", filepath.Base(tc.path), err, tc.want)
		}
	}
	if err := meta.CheckClasses([]string{"a", "b", "x"}); err == nil || !strings.Contains(err.Error(), "differ") {
		t.Errorf("CheckClasses = %v", err)
	}
	if err := meta.CheckClasses([]string{"a"}); err == nil || !strings.Contains(err.Error(), "3 classes") {
		t.Errorf("CheckClasses = %v", err)
	}
}
