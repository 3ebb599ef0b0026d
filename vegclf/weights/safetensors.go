package weights

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"sort"

	"github.com/vegclf/vegclf/vegclf/internal/atomicfile"
)

// maxSafetensorsHeader bounds the JSON header, as the reference implementation does (100 MB).
const maxSafetensorsHeader = 100 << 20

// SafetensorsEntry is a tensor's entry in a safetensors header: its dtype ("F32", ...), shape, and byte
// range in the data that follows the header.
type SafetensorsEntry struct {
	DType   string `json:"dtype"`
	Shape   []int  `json:"shape"`
	Offsets [2]int `json:"data_offsets"`
}

// SafetensorsHeader is a safetensors file's header: its metadata, its tensors' entries, and where their
// data starts in the file.
type SafetensorsHeader struct {
	Metadata  map[string]string
	Entries   map[string]SafetensorsEntry
	DataStart int64
}

// ReadSafetensorsHeader reads the header at the start of f, a file of size bytes; its errors say what
// is wrong with the header, for the caller to name the file. The tensors' ranges are not checked.
func ReadSafetensorsHeader(f io.Reader, size int64) (*SafetensorsHeader, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(f, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("truncated safetensors file (no header length)")
	}
	headerLen := binary.LittleEndian.Uint64(lenBuf[:])
	if headerLen > maxSafetensorsHeader || int64(headerLen) > size-8 {
		return nil, fmt.Errorf("safetensors header length %d does not fit the file of %d bytes", headerLen, size)
	}
	header := make([]byte, headerLen)
	if _, err := io.ReadFull(f, header); err != nil {
		return nil, fmt.Errorf("truncated safetensors header: %v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, fmt.Errorf("invalid safetensors header: %v", err)
	}
	h := &SafetensorsHeader{Entries: map[string]SafetensorsEntry{}, DataStart: int64(8 + headerLen)}
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &h.Metadata); err != nil {
				return nil, fmt.Errorf("invalid safetensors metadata: %v", err)
			}
			continue
		}
		var e SafetensorsEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: invalid header entry: %v", name, err)
		}
		h.Entries[name] = e
	}
	return h, nil
}

// EncodeSafetensorsHeader returns the start of a safetensors file: the header's length, then the JSON
// header holding metadata (when not empty) and entries, padded with spaces to a multiple of 8 bytes.
func EncodeSafetensorsHeader(metadata map[string]string, entries map[string]SafetensorsEntry) ([]byte, error) {
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	for name, e := range entries {
		header[name] = e
	}
	hdr, err := json.Marshal(header)
	if err != nil {
		return nil, err
	}
	for len(hdr)%8 != 0 {
		hdr = append(hdr, ' ')
	}
	return append(binary.LittleEndian.AppendUint64(nil, uint64(len(hdr))), hdr...), nil
}

// ReadSafetensors reads a safetensors file (an 8-byte little-endian header length, a JSON header naming
// each tensor's dtype, shape and byte range, then the data), such as timm's model.safetensors.
// F32, F64, F16, BF16, I64 and I32 tensors are read; every range is checked against the file.
func ReadSafetensors(path string) (*StateDict, error) {
	wrap := func(format string, args ...any) error {
		return fmt.Errorf("reading weights %s: %s", path, fmt.Sprintf(format, args...))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading weights: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading weights: %w", err)
	}
	h, err := ReadSafetensorsHeader(f, info.Size())
	if err != nil {
		return nil, wrap("%v", err)
	}
	dataStart := h.DataStart
	dataLen := info.Size() - dataStart
	type named struct {
		name string
		e    SafetensorsEntry
	}
	var entries []named
	sd := NewStateDict(path)
	sd.Metadata = h.Metadata
	for name, e := range h.Entries {
		entries = append(entries, named{name, e})
	}
	// The format stores tensors in data order; keep that order.
	sort.Slice(entries, func(i, j int) bool { return entries[i].e.Offsets[0] < entries[j].e.Offsets[0] })
	for _, ne := range entries {
		name, e := ne.name, ne.e
		size, ok := dtypeSize[e.DType]
		if !ok {
			return nil, wrap("tensor %q has unsupported dtype %q", name, e.DType)
		}
		n := 1
		for _, d := range e.Shape {
			if d < 0 {
				return nil, wrap("tensor %q has negative dimension in shape %v", name, e.Shape)
			}
			n *= d
		}
		begin, end := int64(e.Offsets[0]), int64(e.Offsets[1])
		if begin < 0 || end < begin || end > dataLen {
			return nil, wrap("tensor %q: byte range [%d, %d) is outside the data (%d bytes; truncated file?)", name, begin, end, dataLen)
		}
		if end-begin != int64(n*size) {
			return nil, wrap("tensor %q: shape %v of %s needs %d bytes, its range has %d", name, e.Shape, e.DType, n*size, end-begin)
		}
		buf := make([]byte, end-begin)
		if _, err := f.ReadAt(buf, dataStart+begin); err != nil {
			return nil, wrap("tensor %q: %v", name, err)
		}
		t := &Tensor{Shape: slices.Clone(e.Shape)}
		decodeSafetensors(e.DType, buf, n, t)
		if err := sd.Add(name, t); err != nil {
			return nil, wrap("%v", err)
		}
	}
	if len(sd.Names) == 0 {
		return nil, wrap("the file holds no tensors")
	}
	return sd, nil
}

var dtypeSize = map[string]int{"F32": 4, "F64": 8, "F16": 2, "BF16": 2, "I64": 8, "I32": 4}

func decodeSafetensors(dtype string, buf []byte, n int, t *Tensor) {
	le := binary.LittleEndian
	switch dtype {
	case "I64", "I32":
		t.Int64 = make([]int64, n)
		for i := range t.Int64 {
			if dtype == "I64" {
				t.Int64[i] = int64(le.Uint64(buf[i*8:]))
			} else {
				t.Int64[i] = int64(int32(le.Uint32(buf[i*4:])))
			}
		}
		return
	}
	t.Float32 = make([]float32, n)
	for i := range t.Float32 {
		switch dtype {
		case "F32":
			t.Float32[i] = math.Float32frombits(le.Uint32(buf[i*4:]))
		case "F64":
			t.Float32[i] = float32(math.Float64frombits(le.Uint64(buf[i*8:])))
		case "BF16":
			t.Float32[i] = math.Float32frombits(uint32(le.Uint16(buf[i*2:])) << 16)
		case "F16":
			t.Float32[i] = halfToFloat32(le.Uint16(buf[i*2:]))
		}
	}
}

// halfToFloat32 converts an IEEE 754 half-precision value.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN.
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // Subnormal: value = frac * 2^-24.
		v := float32(frac) * float32(math.Ldexp(1, -24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// WriteSafetensors writes the state dict (and its Metadata) as a safetensors file (F32 and I64 tensors),
// through a temporary file that is synced and renamed into place, so that a reader never sees a partial
// file, even if the writer is killed.
func WriteSafetensors(path string, sd *StateDict) error {
	entries := map[string]SafetensorsEntry{}
	offset := 0
	for _, name := range sd.Names {
		t := sd.Tensors[name]
		dtype, size := "F32", 4
		if t.Int64 != nil {
			dtype, size = "I64", 8
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		entries[name] = SafetensorsEntry{DType: dtype, Shape: shape, Offsets: [2]int{offset, offset + t.Len()*size}}
		offset += t.Len() * size
	}
	hdr, err := EncodeSafetensorsHeader(sd.Metadata, entries)
	if err != nil {
		return fmt.Errorf("writing weights %s: %w", path, err)
	}
	buf := make([]byte, 0, len(hdr)+offset)
	buf = append(buf, hdr...)
	for _, name := range sd.Names {
		t := sd.Tensors[name]
		for _, v := range t.Float32 {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		for _, v := range t.Int64 {
			buf = binary.LittleEndian.AppendUint64(buf, uint64(v))
		}
	}
	if err := atomicfile.Write(path, buf); err != nil {
		return fmt.Errorf("writing weights: %w", err)
	}
	return nil
}
