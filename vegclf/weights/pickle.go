package weights

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Pickle opcode argument kinds, for checkPickle.
const (
	argNone  = iota
	argFixed // A fixed number of bytes.
	argLen1  // A 1-byte length, then that many bytes.
	argLen4  // A 4-byte little-endian length, then that many bytes.
	argLen8  // An 8-byte little-endian length, then that many bytes.
	argLine  // Text up to a newline.
	argLine2 // Two lines.
)

type pickleOp struct {
	kind, size int
}

// pickleOps lists every opcode of pickle protocols 0 to 5 with its argument.
var pickleOps = map[byte]pickleOp{
	'(': {argNone, 0}, '.': {argNone, 0}, '0': {argNone, 0}, '1': {argNone, 0}, '2': {argNone, 0},
	'J': {argFixed, 4}, 'K': {argFixed, 1}, 'M': {argFixed, 2}, 0x8a: {argLen1, 0}, 0x8b: {argLen4, 0},
	'N': {argNone, 0}, 0x88: {argNone, 0}, 0x89: {argNone, 0}, 'G': {argFixed, 8},
	'T': {argLen4, 0}, 'U': {argLen1, 0}, 'B': {argLen4, 0}, 'C': {argLen1, 0}, 0x8e: {argLen8, 0}, 0x96: {argLen8, 0},
	'X': {argLen4, 0}, 0x8c: {argLen1, 0}, 0x8d: {argLen8, 0},
	']': {argNone, 0}, 'a': {argNone, 0}, 'e': {argNone, 0}, 'l': {argNone, 0}, ')': {argNone, 0}, 't': {argNone, 0},
	0x85: {argNone, 0}, 0x86: {argNone, 0}, 0x87: {argNone, 0}, '}': {argNone, 0}, 'd': {argNone, 0}, 's': {argNone, 0},
	'u': {argNone, 0}, 0x8f: {argNone, 0}, 0x90: {argNone, 0}, 0x91: {argNone, 0},
	'h': {argFixed, 1}, 'j': {argFixed, 4}, 'q': {argFixed, 1}, 'r': {argFixed, 4}, 0x94: {argNone, 0},
	0x82: {argFixed, 1}, 0x83: {argFixed, 2}, 0x84: {argFixed, 4},
	'R': {argNone, 0}, 'b': {argNone, 0}, 0x81: {argNone, 0}, 0x92: {argNone, 0}, 0x93: {argNone, 0}, 'o': {argNone, 0},
	0x80: {argFixed, 1}, 0x95: {argFixed, 8}, 'Q': {argNone, 0}, 0x97: {argNone, 0}, 0x98: {argNone, 0},
	'I': {argLine, 0}, 'L': {argLine, 0}, 'F': {argLine, 0}, 'S': {argLine, 0}, 'V': {argLine, 0}, 'P': {argLine, 0},
	'g': {argLine, 0}, 'p': {argLine, 0}, 'c': {argLine2, 0}, 'i': {argLine2, 0},
}

// checkPickle walks a pickle's opcodes up to STOP and verifies that every length it declares fits in
// the bytes that follow. gopickle allocates a declared length before reading it, so without this check
// a corrupt file could make it allocate gigabytes.
func checkPickle(b []byte) error {
	i := 0
	for i < len(b) {
		code := b[i]
		op, ok := pickleOps[code]
		if !ok {
			return fmt.Errorf("pickle: unknown opcode 0x%02x at byte %d", code, i)
		}
		i++
		if code == '.' {
			return nil
		}
		rest := uint64(len(b) - i)
		var skip uint64
		switch op.kind {
		case argFixed:
			skip = uint64(op.size)
			if code == 0x95 { // FRAME: its length covers the opcodes that follow; they are walked too.
				if rest < 8 {
					return fmt.Errorf("pickle: truncated frame header at byte %d", i)
				}
				if n := binary.LittleEndian.Uint64(b[i:]); n > rest-8 {
					return fmt.Errorf("pickle: frame of %d bytes at byte %d, only %d remain", n, i, rest-8)
				}
			}
		case argLen1, argLen4, argLen8:
			width := map[int]uint64{argLen1: 1, argLen4: 4, argLen8: 8}[op.kind]
			if rest < width {
				return fmt.Errorf("pickle: truncated length at byte %d", i)
			}
			var n uint64
			switch width {
			case 1:
				n = uint64(b[i])
			case 4:
				n = uint64(binary.LittleEndian.Uint32(b[i:]))
			case 8:
				n = binary.LittleEndian.Uint64(b[i:])
			}
			if n > rest-width {
				return fmt.Errorf("pickle: %d bytes declared at byte %d, only %d remain", n, i, rest-width)
			}
			skip = width + n
		case argLine, argLine2:
			lines := 1 + op.kind - argLine
			for range lines {
				nl := bytes.IndexByte(b[i+int(skip):], '\n')
				if nl < 0 {
					return fmt.Errorf("pickle: unterminated text argument at byte %d", i)
				}
				skip += uint64(nl) + 1
			}
		}
		if skip > rest {
			return fmt.Errorf("pickle: truncated argument at byte %d", i)
		}
		i += int(skip)
	}
	return fmt.Errorf("pickle: no STOP opcode")
}
