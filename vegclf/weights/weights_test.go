package weights

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vegclf/vegclf/vegclf/internal/testenv"
	"github.com/vegclf/vegclf/vegclf/nn"
	"github.com/vegclf/vegclf/vegclf/resnet"
)

// randomStateDict returns the torch-layout state dict of a freshly initialized model.
func randomStateDict(t *testing.T, m *nn.Model, seed uint64) *StateDict {
	t.Helper()
	store := model.NewStore()
	if err := m.Init(store, seed, nil); err != nil {
		t.Fatal(err)
	}
	sd, err := FromStore(store, m)
	if err != nil {
		t.Fatal(err)
	}
	return sd
}

func TestSafetensorsRoundTrip(t *testing.T) {
	m := resnet.New(resnet.ResNet18, nn.ImageNetHead())
	sd := randomStateDict(t, m, 3)
	path := filepath.Join(t.TempDir(), "model.safetensors")
	if err := WriteSafetensors(path, sd); err != nil {
		t.Fatal(err)
	}
	back, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.Names, sd.Names) {
		t.Fatalf("names differ after the round trip")
	}
	for _, name := range sd.Names {
		a, b := sd.Tensors[name], back.Tensors[name]
		if !slices.Equal(a.Shape, b.Shape) || !slices.Equal(a.Float32, b.Float32) || !slices.Equal(a.Int64, b.Int64) {
			t.Fatalf("tensor %q differs after the round trip", name)
		}
	}
	// Loading it and exporting again gives the same torch-layout values: the layout conversions invert.
	store := model.NewStore()
	if _, err := Load(store, m, back, KeepHead); err != nil {
		t.Fatal(err)
	}
	again, err := FromStore(store, m)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range sd.Names {
		if !slices.Equal(sd.Tensors[name].Float32, again.Tensors[name].Float32) {
			t.Fatalf("tensor %q changed through Load and FromStore", name)
		}
	}
}

func TestReadPTHStridedAndTypedStorages(t *testing.T) {
	path := filepath.Join(t.TempDir(), "odd.pth")
	testenv.RunPython(t, "odd_state_dict.py", path)
	sd, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		shape []int
		want  []float32
	}{
		{"transposed", []int{3, 2}, []float32{0, 1, 2, 3, 4, 5}},
		{"sliced", []int{2}, []float32{0, 1}},
		{"half", []int{4}, []float32{0, 1, 2, 3}},
		{"double", []int{2, 2}, []float32{0, 1, 2, 3}},
	} {
		got := sd.Tensors[tc.name]
		if got == nil || !slices.Equal(got.Shape, tc.shape) || !slices.Equal(got.Float32, tc.want) {
			t.Errorf("%s = %+v, want shape %v values %v", tc.name, got, tc.shape, tc.want)
		}
	}
	if c := sd.Tensors["counter"]; c == nil || len(c.Int64) != 1 || c.Int64[0] != 7 || len(c.Shape) != 0 {
		t.Errorf("counter = %+v", c)
	}
	if !slices.Equal(sd.Names, []string{"transposed", "sliced", "half", "double", "counter"}) {
		t.Errorf("names %v are not in the file's order", sd.Names)
	}
}

func TestLoadChecksEveryTensor(t *testing.T) {
	imagenet := resnet.New(resnet.ResNet18, nn.ImageNetHead())
	tutorial := resnet.New(resnet.ResNet18, nn.TutorialHead(15))
	for _, tc := range []struct {
		name   string
		model  *nn.Model
		edit   func(sd *StateDict)
		policy HeadPolicy
		want   string // Error substring; "" means success.
	}{
		{"complete, head kept", imagenet, func(*StateDict) {}, KeepHead, ""},
		{"ImageNet head dropped for a new one", tutorial, func(*StateDict) {}, DropHead, ""},
		{"missing tensor", imagenet, func(sd *StateDict) { remove(sd, "layer3.1.bn2.running_var") }, KeepHead,
			`1 tensors missing from the file, e.g. "layer3.1.bn2.running_var"`},
		{"extra tensor", imagenet, func(sd *StateDict) {
			sd.Add("layer5.0.conv1.weight", &Tensor{Shape: []int{1}, Float32: []float32{1}})
		}, KeepHead, `not in the model, e.g. "layer5.0.conv1.weight"`},
		{"misshaped tensor", imagenet, func(sd *StateDict) {
			sd.Tensors["layer1.0.conv1.weight"].Shape = []int{64, 64, 9, 1}
		}, KeepHead, `tensor "layer1.0.conv1.weight" has shape [64 64 9 1], the model needs [64 64 3 3]`},
		{"head kept for another class count", tutorial, func(*StateDict) {}, KeepHead, `missing from the file, e.g. "fc.0.weight"`},
		{"integers where floats belong", imagenet, func(sd *StateDict) {
			sd.Tensors["bn1.bias"] = &Tensor{Shape: []int{64}, Int64: make([]int64, 64)}
		}, KeepHead, `"bn1.bias" should be floating point`},
		{"timm file without counters", imagenet, func(sd *StateDict) {
			for _, n := range slices.Clone(sd.Names) {
				if strings.HasSuffix(n, "num_batches_tracked") {
					remove(sd, n)
				}
			}
		}, KeepHead, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sd := randomStateDict(t, imagenet, 1)
			sd.Path = "file.pth"
			tc.edit(sd)
			store := model.NewStore()
			if err := tc.model.Init(store, 9, nil); err != nil {
				t.Fatal(err)
			}
			before, err := FromStore(store, tc.model)
			if err != nil {
				t.Fatal(err)
			}
			report, err := Load(store, tc.model, sd, tc.policy)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "file.pth") {
					t.Fatalf("error = %v, want the file name and %q", err, tc.want)
				}
				after, err := FromStore(store, tc.model)
				if err != nil {
					t.Fatal(err)
				}
				for _, n := range before.Names {
					if !slices.Equal(before.Tensors[n].Float32, after.Tensors[n].Float32) {
						t.Fatalf("a failed load changed %q", n)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.policy == DropHead && !slices.Equal(report.Dropped, []string{"fc.weight", "fc.bias"}) {
				t.Errorf("dropped = %v", report.Dropped)
			}
			if strings.HasPrefix(tc.name, "timm") && len(report.Zeroed) != 20 {
				t.Errorf("zeroed %d counters, want 20", len(report.Zeroed))
			}
			// A loaded backbone tensor has the file's values (in the model's layout).
			got := tensors.MustCopyFlatData[float32](store.GetVariable("/layer4/1/bn2/weight").MustValue())
			if !slices.Equal(got, sd.Tensors["layer4.1.bn2.weight"].Float32) {
				t.Error("layer4.1.bn2.weight was not loaded")
			}
		})
	}
}

func remove(sd *StateDict, name string) {
	delete(sd.Tensors, name)
	sd.Names = slices.DeleteFunc(sd.Names, func(n string) bool { return n == name })
}

func TestReadRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	m := resnet.New(resnet.ResNet18, nn.ImageNetHead())
	good := filepath.Join(dir, "good.safetensors")
	if err := WriteSafetensors(good, randomStateDict(t, m, 1)); err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		content []byte
		want    string
	}{
		{"empty.pth", nil, "neither a torch.save zip archive nor a safetensors file"},
		{"text.pth", []byte("not weights at all"), "neither a torch.save zip archive nor a safetensors file"},
		{"legacy.pth", []byte{0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9}, "legacy (pre-1.6, non-zip)"},
		{"truncated.safetensors", content[:len(content)/2], "outside the data"},
		{"badheader.safetensors", append([]byte{20, 0, 0, 0, 0, 0, 0, 0}, []byte("{not json           ")...), "invalid safetensors header"},
		{"hugeheader.safetensors", append([]byte{0xff, 0xff, 0xff, 0, 0, 0, 0, 0}, '{'), "does not fit the file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name)
			os.WriteFile(p, tc.content, 0o644)
			_, err := Read(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error = %v, want the path and %q", err, tc.want)
			}
		})
	}
	t.Run("truncated.pth", func(t *testing.T) {
		full := filepath.Join(dir, "full.pth")
		testenv.RunPython(t, "odd_state_dict.py", full)
		content, err := os.ReadFile(full)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "truncated.pth")
		if err := os.WriteFile(p, content[:len(content)*2/3], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = Read(p)
		if err == nil || !strings.Contains(err.Error(), "not a valid torch.save zip archive") || !strings.Contains(err.Error(), p) {
			t.Errorf("error = %v", err)
		}
	})
}

func TestDownload(t *testing.T) {
	payload := []byte("pretend these are ResNet weights")
	digest := sha256.Sum256(payload)
	sum := hex.EncodeToString(digest[:])
	mux := http.NewServeMux()
	var hits atomic.Int32
	mux.HandleFunc("/ok.pth", func(w http.ResponseWriter, r *http.Request) { hits.Add(1); w.Write(payload) })
	mux.HandleFunc("/short.pth", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.Write(payload) // The connection closes after fewer bytes than announced.
	})
	server := httptest.NewServer(mux)
	defer server.Close()

	for _, tc := range []struct {
		name string
		k    Known
		want string
	}{
		{"prefix matches", Known{Name: "a", URL: server.URL + "/ok.pth", File: "a.pth", SHA256Prefix: sum[:8]}, ""},
		{"full digest matches", Known{Name: "b", URL: server.URL + "/ok.pth", File: "b.pth", SHA256: sum}, ""},
		{"no published digest", Known{Name: "c", URL: server.URL + "/ok.pth", File: "c.safetensors"}, ""},
		{"checksum mismatch", Known{Name: "d", URL: server.URL + "/ok.pth", File: "d.pth", SHA256Prefix: "deadbeef"}, "checksum mismatch"},
		{"not found", Known{Name: "e", URL: server.URL + "/missing.pth", File: "e.pth"}, "HTTP 404"},
		{"truncated transfer", Known{Name: "f", URL: server.URL + "/short.pth", File: "f.pth"}, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, err := Download(context.Background(), server.Client(), tc.k, dir, nil)
			entries, readErr := os.ReadDir(dir)
			if readErr != nil {
				t.Fatal(readErr)
			}
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error = %v, want %q", err, tc.want)
				}
				if len(entries) != 0 {
					t.Errorf("a failed download left %v in the cache", entries)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(payload) || filepath.Base(path) != tc.k.File {
				t.Errorf("downloaded %q to %s", got, path)
			}
			if tc.k.SHA256 == "" && tc.k.SHA256Prefix == "" {
				rec, err := os.ReadFile(path + ".sha256")
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(string(rec), sum) {
					t.Errorf("recorded digest %q, want %s", rec, sum)
				}
			}
			// A second download finds the file and does not fetch it again.
			before := hits.Load()
			if again, err := Download(context.Background(), server.Client(), tc.k, dir, nil); err != nil || again != path {
				t.Errorf("second download: %s, %v", again, err)
			}
			if hits.Load() != before {
				t.Error("a cached file was downloaded again")
			}
		})
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("VEGCLF_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if d, _ := CacheDir(); d != "/xdg/vegclf" {
		t.Errorf("CacheDir = %s", d)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "")
	if d, err := CacheDir(); err == nil || !strings.Contains(err.Error(), "set VEGCLF_CACHE") {
		t.Errorf("CacheDir without HOME = %q, %v; want an error saying to set VEGCLF_CACHE", d, err)
	}
}
