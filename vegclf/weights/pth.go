package weights

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/nlpodyssey/gopickle/pickle"
	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// ReadPTH reads a state_dict written by torch.save (the zip format of PyTorch 1.6 and later), such as
// torchvision's published weights. The pickle is read with gopickle. The top-level object must be a dict
// of tensors, or a dict holding one under "state_dict", "model" or "model_state_dict" (common checkpoint
// layouts, the PyTorch tutorial's among them); see ReadTorchCheckpoint for the rest of such a checkpoint.
func ReadPTH(path string) (*StateDict, error) {
	ckpt, err := ReadTorchCheckpoint(path)
	if err != nil {
		return nil, err
	}
	return ckpt.Model, nil
}

// readTorchFile unpickles a torch.save file and returns its top-level dict's entries.
func readTorchFile(path string) (entries []entry, err error) {
	defer func() {
		// gopickle can panic on malformed pickles; report it as an error naming the file.
		if r := recover(); r != nil {
			entries, err = nil, fmt.Errorf("reading weights %s: malformed torch.save file: %v", path, r)
		}
	}()
	obj, err := loadZip(path)
	if err != nil {
		return nil, fmt.Errorf("reading weights %s: %w", path, err)
	}
	entries, err = dictEntries(obj)
	if err != nil {
		return nil, fmt.Errorf("reading weights %s: %w", path, err)
	}
	return entries, nil
}

// stateDict builds a state_dict from a dict's entries, each a string key and a tensor.
func stateDict(path string, entries []entry) (*StateDict, error) {
	sd := NewStateDict(path)
	for _, e := range entries {
		name, ok := e.key.(string)
		if !ok {
			return nil, fmt.Errorf("reading weights %s: key %v is not a string", path, e.key)
		}
		pt, ok := e.value.(*pytorch.Tensor)
		if !ok {
			return nil, fmt.Errorf("reading weights %s: %q is a %T, not a tensor", path, name, e.value)
		}
		t, err := contiguous(pt)
		if err != nil {
			return nil, fmt.Errorf("reading weights %s: tensor %q: %w", path, name, err)
		}
		if err := sd.Add(name, t); err != nil {
			return nil, fmt.Errorf("reading weights %s: %w", path, err)
		}
	}
	if len(sd.Names) == 0 {
		return nil, fmt.Errorf("reading weights %s: the file holds no tensors", path)
	}
	return sd, nil
}

// storageClasses maps torch's storage classes to gopickle's, with their element sizes.
var storageClasses = map[string]struct {
	class    pytorch.StorageClassInterface
	elemSize uint64
}{
	"FloatStorage": {&pytorch.FloatStorageClass{}, 4}, "DoubleStorage": {&pytorch.DoubleStorageClass{}, 8},
	"HalfStorage": {&pytorch.HalfStorageClass{}, 2}, "BFloat16Storage": {&pytorch.BFloat16StorageClass{}, 2},
	"LongStorage": {&pytorch.LongStorageClass{}, 8}, "IntStorage": {&pytorch.IntStorageClass{}, 4},
	"ShortStorage": {&pytorch.ShortStorageClass{}, 2}, "CharStorage": {&pytorch.CharStorageClass{}, 1},
	"ByteStorage": {&pytorch.ByteStorageClass{}, 1}, "BoolStorage": {&pytorch.BoolStorageClass{}, 1},
}

// maxPickleBytes bounds data.pkl: a ResNet-152 state_dict's is about 100 KB.
const maxPickleBytes = 64 << 20

// loadZip unpickles a torch.save zip archive as gopickle's pytorch.Load does, but checks every storage's
// size against the archive entry holding it before allocating anything, so that a corrupt or hostile
// file cannot make it allocate more than the file holds.
func loadZip(path string) (any, error) {
	r, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("not a valid torch.save zip archive (truncated or corrupt?): %w", err)
	}
	defer r.Close()
	records := map[string]*zip.File{}
	var dataPkl *zip.File
	for _, f := range r.File {
		base := f.Name[strings.LastIndex(f.Name, "/")+1:]
		records[base] = f
		if base == "data.pkl" {
			dataPkl = f
		}
	}
	if _, ok := records["constants.pkl"]; ok {
		return nil, fmt.Errorf("a TorchScript archive, not a state_dict: save model.state_dict() with torch.save")
	}
	if dataPkl == nil {
		return nil, fmt.Errorf("no data.pkl in the archive: not written by torch.save")
	}
	if dataPkl.UncompressedSize64 > maxPickleBytes {
		return nil, fmt.Errorf("data.pkl is %d bytes, more than a state_dict's pickle needs", dataPkl.UncompressedSize64)
	}
	pkl, err := dataPkl.Open()
	if err != nil {
		return nil, fmt.Errorf("reading data.pkl: %w", err)
	}
	pklBytes, err := io.ReadAll(io.LimitReader(pkl, maxPickleBytes))
	pkl.Close()
	if err != nil {
		return nil, fmt.Errorf("reading data.pkl: %w", err)
	}
	if err := checkPickle(pklBytes); err != nil {
		return nil, fmt.Errorf("data.pkl: %w", err)
	}
	loaded := map[string]pytorch.StorageInterface{}
	u := pickle.NewUnpickler(bytes.NewReader(pklBytes))
	fallback := u.FindClass
	u.FindClass = func(module, name string) (any, error) {
		if module == "torch._utils" && name == "_rebuild_tensor_v2" {
			return &pytorch.RebuildTensorV2{}, nil
		}
		if sc, ok := storageClasses[name]; ok && module == "torch" {
			return sc.class, nil
		}
		if fallback == nil {
			return nil, fmt.Errorf("class not found: %s.%s", module, name)
		}
		return fallback(module, name)
	}
	u.PersistentLoad = func(id any) (any, error) {
		tuple, ok := id.(*types.Tuple)
		if !ok || tuple.Len() < 5 {
			return nil, fmt.Errorf("unexpected persistent id %v", id)
		}
		typename, _ := tuple.Get(0).(string)
		class, classOK := tuple.Get(1).(pytorch.StorageClassInterface)
		key, keyOK := tuple.Get(2).(string)
		location, locOK := tuple.Get(3).(string)
		size, sizeOK := tuple.Get(4).(int)
		if typename != "storage" || !classOK || !keyOK || !locOK || !sizeOK || size < 0 {
			return nil, fmt.Errorf("unexpected storage reference %v", id)
		}
		if s, ok := loaded[key]; ok {
			return s, nil
		}
		record, ok := records[key]
		if !ok {
			return nil, fmt.Errorf("storage %q is not in the archive", key)
		}
		var elemSize uint64
		for _, sc := range storageClasses {
			if fmt.Sprintf("%T", sc.class) == fmt.Sprintf("%T", class) {
				elemSize = sc.elemSize
			}
		}
		if elemSize == 0 || uint64(size)*elemSize != record.UncompressedSize64 {
			return nil, fmt.Errorf("storage %q: %d values of %T do not match its %d bytes in the archive", key, size, class, record.UncompressedSize64)
		}
		f, err := record.Open()
		if err != nil {
			return nil, fmt.Errorf("storage %q: %w", key, err)
		}
		defer f.Close()
		storage := class.New(size, location)
		if err := storage.SetFromFileWithSize(f, size); err != nil {
			return nil, fmt.Errorf("storage %q: %w", key, err)
		}
		loaded[key] = storage
		return storage, nil
	}
	return u.Load()
}

type entry struct {
	key, value any
}

// dictEntries returns the entries of a Python dict or OrderedDict, in order.
func dictEntries(obj any) ([]entry, error) {
	switch d := obj.(type) {
	case *types.OrderedDict:
		var out []entry
		for e := d.List.Front(); e != nil; e = e.Next() {
			de := e.Value.(*types.OrderedDictEntry)
			out = append(out, entry{de.Key, de.Value})
		}
		return out, nil
	case *types.Dict:
		var out []entry
		for _, de := range *d {
			out = append(out, entry{de.Key, de.Value})
		}
		return out, nil
	}
	return nil, fmt.Errorf("the file holds a %T, not a state_dict (a dict of tensors)", obj)
}

func lookup(entries []entry, key string) (any, bool) {
	for _, e := range entries {
		if k, ok := e.key.(string); ok && k == key {
			return e.value, true
		}
	}
	return nil, false
}

// contiguous copies a (possibly strided) torch tensor into row-major order.
func contiguous(pt *pytorch.Tensor) (*Tensor, error) {
	t := &Tensor{Shape: append([]int{}, pt.Size...)}
	n := t.Len()
	var storageLen int
	var at func(i int) (float64, int64)
	switch s := pt.Source.(type) {
	case *pytorch.FloatStorage:
		storageLen, at = len(s.Data), func(i int) (float64, int64) { return float64(s.Data[i]), 0 }
		t.Float32 = make([]float32, n)
	case *pytorch.DoubleStorage:
		storageLen, at = len(s.Data), func(i int) (float64, int64) { return s.Data[i], 0 }
		t.Float32 = make([]float32, n)
	case *pytorch.HalfStorage:
		storageLen, at = len(s.Data), func(i int) (float64, int64) { return float64(s.Data[i]), 0 }
		t.Float32 = make([]float32, n)
	case *pytorch.BFloat16Storage:
		storageLen, at = len(s.Data), func(i int) (float64, int64) { return float64(s.Data[i]), 0 }
		t.Float32 = make([]float32, n)
	case *pytorch.LongStorage:
		storageLen, at = len(s.Data), func(i int) (float64, int64) { return 0, s.Data[i] }
		t.Int64 = make([]int64, n)
	case *pytorch.IntStorage:
		storageLen, at = len(s.Data), func(i int) (float64, int64) { return 0, int64(s.Data[i]) }
		t.Int64 = make([]int64, n)
	default:
		return nil, fmt.Errorf("unsupported storage type %T", pt.Source)
	}
	if len(pt.Stride) != len(pt.Size) {
		return nil, fmt.Errorf("stride %v does not match shape %v", pt.Stride, pt.Size)
	}
	idx := make([]int, len(pt.Size))
	for i := 0; i < n; i++ {
		off := pt.StorageOffset
		for d, v := range idx {
			off += v * pt.Stride[d]
		}
		if off < 0 || off >= storageLen {
			return nil, fmt.Errorf("element %d at storage offset %d is outside the storage of %d values", i, off, storageLen)
		}
		f, l := at(off)
		if t.Float32 != nil {
			t.Float32[i] = float32(f)
		} else {
			t.Int64[i] = l
		}
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < pt.Size[d] {
				break
			}
			idx[d] = 0
		}
	}
	return t, nil
}
