package rgb

import "math"

// resizePrecisionBits is Pillow's fixed-point precision for 8-bit resampling (32 - 8 - 2).
const resizePrecisionBits = 22

// Resize scales img to width x height with Pillow's bilinear filter (Image.resize(size, BILINEAR), which
// torchvision's Resize uses on PIL images): a triangle filter widened by the scale factor when shrinking
// (antialiasing), computed in Pillow's fixed point, horizontal pass first, rounding to 8 bits after each
// pass. The result is bit-identical to Pillow's for the same input pixels.
func Resize(img *Image, width, height int) *Image {
	if img.Width == width && img.Height == height {
		return &Image{Width: width, Height: height, Pix: append([]uint8(nil), img.Pix...)}
	}
	tmp := img
	const half = int32(1 << (resizePrecisionBits - 1))
	if width != img.Width {
		bounds, weights := resampleCoefficients(img.Width, width)
		tmp = &Image{Width: width, Height: img.Height, Pix: make([]uint8, width*img.Height*3)}
		for y := 0; y < img.Height; y++ {
			in := img.Pix[y*img.Width*3 : (y+1)*img.Width*3]
			out := tmp.Pix[y*width*3 : (y+1)*width*3]
			for x := 0; x < width; x++ {
				src := in[bounds[x]*3:]
				r, g, b := half, half, half
				for i, w := range weights[x] {
					px := src[i*3 : i*3+3]
					r += int32(px[0]) * w
					g += int32(px[1]) * w
					b += int32(px[2]) * w
				}
				out[x*3], out[x*3+1], out[x*3+2] = clipFixed(r), clipFixed(g), clipFixed(b)
			}
		}
	}
	if height == tmp.Height {
		return tmp
	}
	// The vertical pass accumulates whole rows, reading the input sequentially (integer sums: the
	// order does not change the result).
	bounds, weights := resampleCoefficients(tmp.Height, height)
	out := &Image{Width: width, Height: height, Pix: make([]uint8, width*height*3)}
	rowLen := width * 3
	acc := make([]int32, rowLen)
	for y := 0; y < height; y++ {
		for j := range acc {
			acc[j] = half
		}
		for i, w := range weights[y] {
			row := tmp.Pix[(bounds[y]+i)*rowLen : (bounds[y]+i+1)*rowLen]
			for j, v := range row {
				acc[j] += int32(v) * w
			}
		}
		dst := out.Pix[y*rowLen : (y+1)*rowLen]
		for j, a := range acc {
			dst[j] = clipFixed(a)
		}
	}
	return out
}

func clipFixed(acc int32) uint8 {
	v := acc >> resizePrecisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resampleCoefficients is Pillow's precompute_coeffs for the bilinear filter followed by
// normalize_coeffs_8bpc: for each output position, the first input index and the fixed-point weights.
func resampleCoefficients(inSize, outSize int) (bounds []int, weights [][]int32) {
	scale := float64(inSize) / float64(outSize)
	filterScale := max(scale, 1)
	support := 1.0 * filterScale // The bilinear filter's support is 1.
	bounds = make([]int, outSize)
	weights = make([][]int32, outSize)
	pre := make([]float64, int(math.Ceil(support))*2+1)
	for xx := 0; xx < outSize; xx++ {
		center := (float64(xx) + 0.5) * scale
		ss := 1 / filterScale
		xmin := max(int(center-support+0.5), 0) // int() truncates toward zero, as C's cast.
		xmax := min(int(center+support+0.5), inSize) - xmin
		total := 0.0
		for x := 0; x < xmax; x++ {
			w := bilinearFilter((float64(x+xmin) - center + 0.5) * ss)
			pre[x] = w
			total += w
		}
		k := make([]int32, xmax)
		for x := 0; x < xmax; x++ {
			w := pre[x]
			if total != 0 {
				w /= total
			}
			if w < 0 {
				k[x] = int32(-0.5 + w*(1<<resizePrecisionBits))
			} else {
				k[x] = int32(0.5 + w*(1<<resizePrecisionBits))
			}
		}
		bounds[xx], weights[xx] = xmin, k
	}
	return bounds, weights
}

func bilinearFilter(x float64) float64 {
	if x < 0 {
		x = -x
	}
	if x < 1 {
		return 1 - x
	}
	return 0
}
