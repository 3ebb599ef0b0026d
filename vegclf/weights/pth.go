package weights

import (
	"archive/zip"
	"fmt"

	"github.com/nlpodyssey/gopickle/pytorch"
	"github.com/nlpodyssey/gopickle/types"
)

// ReadPTH reads a state_dict written by torch.save (the zip format of PyTorch 1.6 and later), such as
// torchvision's published weights. The pickle is read with gopickle. The top-level object must be a dict
// of tensors, or a dict holding one under "state_dict" or "model" (common checkpoint layouts).
func ReadPTH(path string) (sd *StateDict, err error) {
	defer func() {
		// gopickle can panic on malformed pickles; report it as an error naming the file.
		if r := recover(); r != nil {
			sd, err = nil, fmt.Errorf("reading weights %s: malformed torch.save file: %v", path, r)
		}
	}()
	if r, zerr := zip.OpenReader(path); zerr != nil {
		return nil, fmt.Errorf("reading weights %s: not a valid torch.save zip archive (truncated or corrupt?): %w", path, zerr)
	} else {
		r.Close()
	}
	obj, err := pytorch.Load(path)
	if err != nil {
		return nil, fmt.Errorf("reading weights %s: %w", path, err)
	}
	entries, err := dictEntries(obj)
	if err != nil {
		return nil, fmt.Errorf("reading weights %s: %w", path, err)
	}
	for _, key := range []string{"state_dict", "model"} {
		if inner, ok := lookup(entries, key); ok {
			if innerEntries, err := dictEntries(inner); err == nil {
				entries = innerEntries
			}
		}
	}
	sd = NewStateDict(path)
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
