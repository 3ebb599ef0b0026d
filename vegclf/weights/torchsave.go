package weights

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/vegclf/vegclf/vegclf/internal/atomicfile"
)

// WritePTH writes sd as torch.save writes a state_dict (the zip format of PyTorch 1.6 and later), so that
// torch.load reads it with no help: archive/data.pkl, a protocol-2 pickle of an OrderedDict of tensors
// rebuilt by torch._utils._rebuild_tensor_v2 from persistent storages; archive/data/N, each tensor's
// storage as raw little-endian values (float32, or int64 for counters); archive/version. The entries are
// stored uncompressed, as torch writes them. The file is written to a temporary name and renamed.
func WritePTH(path string, sd *StateDict) error {
	var pkl pickler
	pkl.proto()
	pkl.global("collections", "OrderedDict")
	pkl.op(opEmptyTuple, opReduce, opMark)
	for i, name := range sd.Names {
		t := sd.Tensors[name]
		storage := "FloatStorage"
		if t.Int64 != nil {
			storage = "LongStorage"
		}
		pkl.str(name)
		pkl.global("torch._utils", "_rebuild_tensor_v2")
		pkl.op(opMark)
		// The storage, loaded by torch's persistent_load: ('storage', class, key, location, numel).
		pkl.op(opMark)
		pkl.str("storage")
		pkl.global("torch", storage)
		pkl.str(strconv.Itoa(i))
		pkl.str("cpu")
		pkl.int(t.Len())
		pkl.op(opTuple, opBinPersID)
		pkl.int(0) // Storage offset.
		pkl.ints(t.Shape)
		pkl.ints(contiguousStrides(t.Shape))
		pkl.op(opNewFalse) // requires_grad.
		pkl.global("collections", "OrderedDict")
		pkl.op(opEmptyTuple, opReduce) // Backward hooks.
		pkl.op(opTuple, opReduce)
	}
	pkl.op(opSetItems, opStop)

	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, content []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: "archive/" + name, Method: zip.Store})
		if err != nil {
			return err
		}
		_, err = w.Write(content)
		return err
	}
	if err := add("data.pkl", pkl.Bytes()); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	for i, name := range sd.Names {
		if err := add("data/"+strconv.Itoa(i), storageBytes(sd.Tensors[name])); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := add("version", []byte("3\n")); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return atomicfile.Write(path, buf.Bytes())
}

// contiguousStrides returns the row-major strides of shape, in elements.
func contiguousStrides(shape []int) []int {
	strides := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		strides[i] = s
		s *= shape[i]
	}
	return strides
}

// storageBytes returns t's values as little-endian bytes.
func storageBytes(t *Tensor) []byte {
	if t.Int64 != nil {
		out := make([]byte, 8*len(t.Int64))
		for i, v := range t.Int64 {
			binary.LittleEndian.PutUint64(out[8*i:], uint64(v))
		}
		return out
	}
	out := make([]byte, 4*len(t.Float32))
	for i, v := range t.Float32 {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(v))
	}
	return out
}

// Pickle opcodes written by pickler (Python's pickle module names them so).
const (
	opMark       = '('
	opStop       = '.'
	opBinInt     = 'J'
	opBinInt1    = 'K'
	opBinInt2    = 'M'
	opBinUnicode = 'X'
	opGlobal     = 'c'
	opEmptyTuple = ')'
	opTuple      = 't'
	opReduce     = 'R'
	opSetItems   = 'u'
	opBinPersID  = 'Q'
	opProto      = 0x80
	opNewFalse   = 0x89
	opLong1      = 0x8a
)

// pickler writes the protocol-2 pickle opcodes a state_dict needs.
type pickler struct{ bytes.Buffer }

func (p *pickler) proto() { p.Write([]byte{opProto, 2}) }

func (p *pickler) op(ops ...byte) { p.Write(ops) }

func (p *pickler) global(module, name string) {
	p.WriteByte(opGlobal)
	p.WriteString(module + "\n" + name + "\n")
}

func (p *pickler) str(s string) {
	p.WriteByte(opBinUnicode)
	binary.Write(&p.Buffer, binary.LittleEndian, uint32(len(s)))
	p.WriteString(s)
}

func (p *pickler) int(v int) {
	switch {
	case v >= 0 && v < 1<<8:
		p.Write([]byte{opBinInt1, byte(v)})
	case v >= 0 && v < 1<<16:
		p.Write([]byte{opBinInt2, byte(v), byte(v >> 8)})
	case v >= math.MinInt32 && v <= math.MaxInt32:
		p.WriteByte(opBinInt)
		binary.Write(&p.Buffer, binary.LittleEndian, int32(v))
	default: // LONG1: a little-endian two's complement of 8 bytes.
		p.Write([]byte{opLong1, 8})
		binary.Write(&p.Buffer, binary.LittleEndian, int64(v))
	}
}

// ints writes a tuple of ints.
func (p *pickler) ints(vs []int) {
	if len(vs) == 0 {
		p.op(opEmptyTuple)
		return
	}
	p.op(opMark)
	for _, v := range vs {
		p.int(v)
	}
	p.op(opTuple)
}
