//go:build cgo

package rgb

/*
#cgo LDFLAGS: -lturbojpeg
#include <stdio.h>
#include <jconfig.h>
#include <turbojpeg.h>

// TurboJPEG's error manager catches libjpeg's fatal errors with its own setjmp inside each call and
// returns -1: nothing longjmps across Go frames, and nothing calls exit or prints.
*/
import "C"

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"
)

// JPEGDecoder names the JPEG decoder of this build: libjpeg-turbo through its TurboJPEG API, the library
// Pillow and torchvision.io decode with, set up as Pillow sets it (accurate integer IDCT, fancy
// upsampling), so the pixels are Pillow's.
var JPEGDecoder = fmt.Sprintf("libjpeg-turbo %d.%d.%d (TurboJPEG, cgo)", C.LIBJPEG_TURBO_VERSION_NUMBER/1000000,
	C.LIBJPEG_TURBO_VERSION_NUMBER/1000%1000, C.LIBJPEG_TURBO_VERSION_NUMBER%1000)

// turboFlags: accurate integer IDCT and fancy upsampling are libjpeg's defaults, which Pillow keeps;
// TJFLAG_LIMITSCANS refuses progressive files of over 500 scans, which take minutes to decode (no real
// encoder writes them).
const turboFlags = C.TJFLAG_ACCURATEDCT | C.TJFLAG_LIMITSCANS

// jpegHeader is what a JPEG's header says.
type jpegHeader struct {
	width, height int
	colorspace    C.int
}

// turboError is the handle's last error; the message is libjpeg's.
func turboError(handle C.tjhandle, what string) error {
	return fmt.Errorf("%s: %s", what, C.GoString(C.tjGetErrorStr2(handle)))
}

// readJPEGHeader reads the header of a JPEG file.
func readJPEGHeader(handle C.tjhandle, content []byte) (jpegHeader, error) {
	if len(content) == 0 {
		return jpegHeader{}, errors.New("empty file")
	}
	var w, h, subsamp, colorspace C.int
	if C.tjDecompressHeader3(handle, (*C.uchar)(unsafe.Pointer(&content[0])), C.ulong(len(content)), &w, &h, &subsamp, &colorspace) != 0 {
		return jpegHeader{}, turboError(handle, "reading the header")
	}
	return jpegHeader{width: int(w), height: int(h), colorspace: colorspace}, nil
}

// jpegSize returns a JPEG's width and height from its header.
func jpegSize(content []byte) (width, height int, err error) {
	handle := C.tjInitDecompress()
	if handle == nil {
		return 0, 0, errors.New("libjpeg-turbo could not start a decompressor")
	}
	defer C.tjDestroy(handle)
	hdr, err := readJPEGHeader(handle, content)
	return hdr.width, hdr.height, err
}

// decodeJPEG decodes a JPEG to RGB as Pillow's Image.open(...).convert("RGB") does: grayscale replicated,
// CMYK and YCCK converted with Pillow's formula, from Adobe's inverted values. The size must have been
// checked (CheckHeader) before: the pixels are allocated from the header's size. A file that ends early is
// an error, as in Pillow; libjpeg's other warnings (extraneous bytes, a corrupt segment it recovered from)
// are not, as in Pillow.
func decodeJPEG(content []byte) (*Image, error) {
	handle := C.tjInitDecompress()
	if handle == nil {
		return nil, errors.New("libjpeg-turbo could not start a decompressor")
	}
	defer C.tjDestroy(handle)
	hdr, err := readJPEGHeader(handle, content)
	if err != nil {
		return nil, err
	}
	cmyk := hdr.colorspace == C.TJCS_CMYK || hdr.colorspace == C.TJCS_YCCK
	format, channels := C.int(C.TJPF_RGB), 3
	if cmyk {
		format, channels = C.TJPF_CMYK, 4
	}
	pix := make([]uint8, hdr.width*hdr.height*channels)
	if C.tjDecompress2(handle, (*C.uchar)(unsafe.Pointer(&content[0])), C.ulong(len(content)),
		(*C.uchar)(unsafe.Pointer(&pix[0])), C.int(hdr.width), 0, C.int(hdr.height), format, turboFlags) != 0 {
		msg := C.GoString(C.tjGetErrorStr2(handle))
		if C.tjGetErrorCode(handle) != C.TJERR_WARNING || strings.Contains(msg, "Premature end") {
			return nil, fmt.Errorf("decoding: %s", msg)
		}
	}
	out := &Image{Width: hdr.width, Height: hdr.height, Pix: pix}
	if cmyk {
		out.Pix = invertedCMYKToRGB(pix)
	}
	return out, nil
}
