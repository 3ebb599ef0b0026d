package weights

import (
	"os"
	"path/filepath"
	"testing"
)

// fuzzRead writes content to a file and reads it with read: any outcome but a panic is fine.
func fuzzRead(t *testing.T, content []byte, read func(string) (*StateDict, error)) {
	path := filepath.Join(t.TempDir(), "w")
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
	sd, err := read(path)
	if err != nil {
		return
	}
	for _, name := range sd.Names {
		tensor := sd.Tensors[name]
		if n := tensor.Len(); len(tensor.Float32) != n && len(tensor.Int64) != n {
			t.Fatalf("tensor %q: shape %v with %d/%d values", name, tensor.Shape, len(tensor.Float32), len(tensor.Int64))
		}
	}
}

// FuzzReadSafetensors feeds arbitrary bytes to the safetensors reader.
func FuzzReadSafetensors(f *testing.F) {
	sd := NewStateDict("")
	sd.Add("a", &Tensor{Shape: []int{2, 2}, Float32: []float32{1, 2, 3, 4}})
	sd.Add("b", &Tensor{Shape: []int{}, Int64: []int64{7}})
	sd.Metadata = map[string]string{"k": "v"}
	path := filepath.Join(f.TempDir(), "seed.safetensors")
	if err := WriteSafetensors(path, sd); err != nil {
		f.Fatal(err)
	}
	seed, _ := os.ReadFile(path)
	f.Add(seed)
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":1}}"))
	f.Fuzz(func(t *testing.T, content []byte) { fuzzRead(t, content, ReadSafetensors) })
}

// FuzzReadPTH feeds arbitrary bytes to the torch.save reader (zip archive and pickle). The seed is a
// small state_dict written by torch.save (testdata/odd.pth, from internal/torchref/odd_state_dict.py).
func FuzzReadPTH(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "odd.pth"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, content []byte) { fuzzRead(t, content, ReadPTH) })
}
