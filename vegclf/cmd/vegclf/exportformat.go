package main

import (
	"path/filepath"
	"strings"
)

// exportFormats are the formats export writes, by the extensions of their files.
var exportFormats = map[string]string{".pth": "pth", ".pt": "pth", ".onnx": "onnx"}

// exportFormat returns the format export writes out in: --format (format), else the one out's extension
// names (.onnx, .pth, .pt), else pth. A format that contradicts the extension, or an extension of a format
// export does not write, is a usage error: the file would be misnamed.
func exportFormat(format, out string) (string, error) {
	ext := strings.ToLower(filepath.Ext(out))
	byExt, known := exportFormats[ext]
	switch {
	case format != "" && format != "pth" && format != "onnx":
		return "", usagef("--format %q: want pth or onnx", format)
	case ext == ".safetensors":
		return "", usagef("--out %s: export writes PyTorch (.pth) and ONNX (.onnx) files, not safetensors", out)
	case format != "" && known && format != byExt:
		return "", usagef("--format %s and --out %s disagree: a %s file is %s; give --out with a .%s name, or --format %s", format, out, ext, byExt, format, byExt)
	case format != "":
		return format, nil
	case known:
		return byExt, nil
	}
	return "pth", nil
}
