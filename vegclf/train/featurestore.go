package train

// This file holds where the frozen backbone's features live: the first rows of each split in memory, up
// to Config.FeatureCacheMB, the rest in a file (a spill file while the pass runs, the features file after),
// read back per batch; and the streaming writer and reader of their safetensors files.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/internal/atomicfile"
	"github.com/vegclf/vegclf/vegclf/weights"
)

// featureBudget is the memory the features of a run may still take, in bytes, shared by its splits.
type featureBudget struct{ left int64 }

// take returns how many rows of dim float32 values the budget grants, at most want, and charges them.
func (b *featureBudget) take(want, dim int) int {
	rows := min(int64(want), b.left/int64(4*dim))
	b.left -= rows * int64(4*dim)
	return int(rows)
}

// features are the backbone's pooled features of a split's images, row i for samples[i]: rows below
// memRows in mem, the others in file, row i at fileOff + (i-fileFirst)*dim*4.
type features struct {
	samples []data.Sample
	dim     int

	memRows   int       // The rows kept in memory (the budget's grant).
	mem       []float32 // The first min(len(samples), memRows) rows.
	file      *os.File  // The other rows; nil while there are none.
	fileOff   int64
	fileFirst int
	spill     string // The spill file this store wrote (removed by close); "" when file is another's.
}

// newFeatures returns an empty store of rows of dim values: up to budget's grant in memory, the others
// appended to the spill file at spill (created at the first such row).
func newFeatures(dim int, budget *featureBudget, want int, spill string) *features {
	rows := budget.take(want, dim)
	return &features{dim: dim, memRows: rows, spill: spill, fileFirst: rows}
}

// add appends rows (len(samples) rows of dim values) for samples.
func (f *features) add(values []float32, samples []data.Sample) error {
	for i, s := range samples {
		row := values[i*f.dim : (i+1)*f.dim]
		if len(f.samples) < f.memRows {
			f.mem = append(f.mem, row...)
		} else {
			if f.file == nil {
				file, err := os.Create(f.spill)
				if err != nil {
					return fmt.Errorf("feature cache: creating its spill file: %w", err)
				}
				f.file = file
			}
			buf := make([]byte, 4*f.dim)
			for j, v := range row {
				binary.LittleEndian.PutUint32(buf[4*j:], math.Float32bits(v))
			}
			if _, err := f.file.WriteAt(buf, f.rowOffset(len(f.samples))); err != nil {
				return fmt.Errorf("feature cache: writing %s: %w", f.spill, err)
			}
		}
		f.samples = append(f.samples, s)
	}
	return nil
}

func (f *features) rowOffset(i int) int64 {
	return f.fileOff + int64(i-f.fileFirst)*int64(4*f.dim)
}

// row copies row i into dst (dim values), from memory or its file.
func (f *features) row(i int, dst []float32, buf []byte) error {
	if i < f.memRows {
		copy(dst, f.mem[i*f.dim:(i+1)*f.dim])
		return nil
	}
	if _, err := f.file.ReadAt(buf[:4*f.dim], f.rowOffset(i)); err != nil {
		return fmt.Errorf("feature cache: reading row %d from %s: %w", i, f.file.Name(), err)
	}
	for j := range dst {
		dst[j] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*j:]))
	}
	return nil
}

// close closes the store's file, removing its spill file.
func (f *features) close() {
	if f.file == nil {
		return
	}
	f.file.Close()
	if f.spill != "" {
		os.Remove(f.spill)
	}
	f.file = nil
}

// batch gathers the rows at idx into a [len(idx), dim] tensor with their labels, and multi-label samples'
// classes (nil for single-label ones).
func (f *features) batch(idx []int) (*tensors.Tensor, []int32, [][]int, error) {
	x := make([]float32, len(idx)*f.dim)
	labels := make([]int32, len(idx))
	buf := make([]byte, 4*f.dim)
	var sets [][]int
	for i, j := range idx {
		if err := f.row(j, x[i*f.dim:(i+1)*f.dim], buf); err != nil {
			return nil, nil, nil, err
		}
		labels[i] = int32(f.samples[j].Label)
		if f.samples[j].Labels != nil {
			if sets == nil {
				sets = make([][]int, len(idx))
			}
			sets[i] = f.samples[j].Labels
		}
	}
	return tensors.FromFlatDataAndDimensions(x, len(idx), f.dim), labels, sets, nil
}

// rowRange is the rows from, to of a store, written as one tensor.
type rowRange struct {
	name     string
	f        *features
	from, to int
}

// writeRows writes, atomically, a safetensors file at path holding each range as a float32 tensor
// [rows, dim], with meta, streaming the rows: it holds one row at a time, not the tensors.
func writeRows(path string, meta map[string]string, ranges []rowRange) error {
	entries := map[string]weights.SafetensorsEntry{}
	offset := 0
	for _, r := range ranges {
		size := (r.to - r.from) * r.f.dim * 4
		entries[r.name] = weights.SafetensorsEntry{DType: "F32", Shape: []int{r.to - r.from, r.f.dim}, Offsets: [2]int{offset, offset + size}}
		offset += size
	}
	hdr, err := weights.EncodeSafetensorsHeader(meta, entries)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp, err := atomicfile.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // Fails harmlessly once renamed.
	w := bufio.NewWriterSize(tmp, 1<<20)
	_, err = w.Write(hdr)
	for _, r := range ranges {
		row, buf, out := make([]float32, r.f.dim), make([]byte, 4*r.f.dim), make([]byte, 4*r.f.dim)
		for i := r.from; i < r.to && err == nil; i++ {
			if err = r.f.row(i, row, buf); err != nil {
				break
			}
			for j, v := range row {
				binary.LittleEndian.PutUint32(out[4*j:], math.Float32bits(v))
			}
			_, err = w.Write(out)
		}
	}
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = tmp.Sync()
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// rowFile is a safetensors file of float32 row tensors opened for reading rows on demand.
type rowFile struct {
	path string
	*weights.SafetensorsHeader
}

// openRows reads the header of the safetensors file at path.
func openRows(path string) (*rowFile, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	info, err := file.Stat()
	if err != nil {
		return nil, err
	}
	h, err := weights.ReadSafetensorsHeader(file, info.Size())
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return &rowFile{path: path, SafetensorsHeader: h}, nil
}

// features returns the tensor name of the file as a store of rows for samples: its first rows, up to
// budget's grant, read into memory, the others read from the file per batch.
func (rf *rowFile) features(name string, samples []data.Sample, budget *featureBudget) (*features, error) {
	e, ok := rf.Entries[name]
	if !ok || e.DType != "F32" || len(e.Shape) != 2 || e.Shape[0] != len(samples) || e.Offsets[1]-e.Offsets[0] != 4*e.Shape[0]*e.Shape[1] {
		return nil, fmt.Errorf("malformed %s features in %s", name, rf.path)
	}
	file, err := os.Open(rf.path)
	if err != nil {
		return nil, err
	}
	f := &features{samples: samples, dim: e.Shape[1], file: file, fileOff: rf.DataStart + int64(e.Offsets[0])}
	rows := budget.take(len(samples), f.dim)
	f.mem = make([]float32, rows*f.dim)
	buf := make([]byte, 4*f.dim)
	for i := range rows {
		if err := f.row(i, f.mem[i*f.dim:(i+1)*f.dim], buf); err != nil {
			file.Close()
			return nil, err
		}
	}
	f.memRows = rows
	return f, nil
}
