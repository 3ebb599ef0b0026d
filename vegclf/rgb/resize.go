package rgb

import (
	"fmt"
	"image"
	"math"
	"strings"
)

// resizePrecisionBits is Pillow's fixed-point precision for 8-bit resampling (32 - 8 - 2).
const resizePrecisionBits = 22

// Filter is one of Pillow's resampling filters, as Image.resize takes it. The zero value is Bilinear.
type Filter int

const (
	// Bilinear is Pillow's BILINEAR: a triangle of support 1, torchvision's default interpolation.
	Bilinear Filter = iota
	// Bicubic is Pillow's BICUBIC: the cubic convolution kernel with a = -0.5, of support 2. It overshoots
	// near edges; the result is clipped to [0, 255], as Pillow clips it.
	Bicubic
)

var filterNames = [...]string{Bilinear: "bilinear", Bicubic: "bicubic"}

// ParseFilter returns the filter called name ("bilinear" or "bicubic", in any case).
func ParseFilter(name string) (Filter, error) {
	for f, n := range filterNames {
		if strings.EqualFold(name, n) {
			return Filter(f), nil
		}
	}
	return 0, fmt.Errorf("unknown resampling filter %q (want bilinear or bicubic)", name)
}

// String returns the filter's name.
func (f Filter) String() string {
	if f.valid() {
		return filterNames[f]
	}
	return fmt.Sprintf("Filter(%d)", int(f))
}

// MarshalText writes the filter's name, as configurations hold it.
func (f Filter) MarshalText() ([]byte, error) {
	if !f.valid() {
		return nil, fmt.Errorf("unknown resampling filter %d", int(f))
	}
	return []byte(filterNames[f]), nil
}

// UnmarshalText sets the filter named by text (ParseFilter).
func (f *Filter) UnmarshalText(text []byte) error {
	parsed, err := ParseFilter(string(text))
	if err != nil {
		return err
	}
	*f = parsed
	return nil
}

func (f Filter) valid() bool { return f >= 0 && int(f) < len(filterNames) }

// support returns the filter's half width, before scaling.
func (f Filter) support() float64 {
	switch f {
	case Bilinear:
		return 1
	case Bicubic:
		return 2
	}
	panic(fmt.Sprintf("rgb: unknown resampling filter %d", int(f)))
}

// weight returns the filter's value at x, with Pillow's operations in Pillow's order. The conversions to
// float64 keep Go from fusing a multiplication and an addition (which the C compiler Pillow is built with
// does not do on amd64), so that every intermediate is rounded as Pillow's is.
func (f Filter) weight(x float64) float64 {
	if x < 0 {
		x = -x
	}
	switch f {
	case Bilinear:
		if x < 1 {
			return 1 - x
		}
	case Bicubic:
		const a = -0.5
		if x < 1 {
			return float64(float64(float64((a+2)*x)-(a+3))*x)*x + 1
		}
		if x < 2 {
			return (float64(float64(float64((x-5)*x)+8)*x) - 4) * a
		}
	}
	return 0
}

// Resize scales img to width x height with Pillow's bilinear filter (Image.resize(size, BILINEAR), which
// torchvision's Resize uses on PIL images by default): ResizeFilter(img, width, height, Bilinear).
func Resize(img *Image, width, height int) *Image {
	return resize(img, width, height, Bilinear, image.Rect(0, 0, width, height))
}

// ResizeFilter scales img to width x height with Pillow's filter f (Image.resize(size, f), which
// torchvision's Resize calls on PIL images): the filter widened by the scale factor when shrinking
// (antialiasing), computed in Pillow's fixed point, horizontal pass first, rounding and clipping to 8 bits
// after each pass. The result is bit-identical to Pillow's for the same input pixels.
func ResizeFilter(img *Image, width, height int, f Filter) *Image {
	return resize(img, width, height, f, image.Rect(0, 0, width, height))
}

// ResizeCrop returns the pixels within crop of ResizeFilter(img, width, height, f), computing only those:
// the same pixels as cropping the whole resized image, at less cost. crop must lie within the resized
// image's bounds, (0, 0)-(width, height).
func ResizeCrop(img *Image, width, height int, f Filter, crop image.Rectangle) *Image {
	if !crop.In(image.Rect(0, 0, width, height)) {
		panic(fmt.Sprintf("rgb.ResizeCrop: crop %v outside the resized image's bounds %dx%d", crop, width, height))
	}
	return resize(img, width, height, f, crop)
}

// resize computes the pixels within crop of img resized to width x height, as Pillow's ImagingResample
// does the whole image: a horizontal pass over the input rows that the vertical pass reads, then the
// vertical pass. Each output pixel depends only on its own coefficients, so leaving others out changes
// none.
func resize(img *Image, width, height int, f Filter, crop image.Rectangle) *Image {
	f.support() // Panics on an unknown filter, whatever the sizes.
	cw, ch := crop.Dx(), crop.Dy()
	if cw == 0 || ch == 0 {
		return &Image{Width: cw, Height: ch, Pix: []uint8{}}
	}
	if img.Width == width && img.Height == height {
		return subImage(img, crop)
	}
	const half = int32(1 << (resizePrecisionBits - 1))
	// The input rows the vertical pass reads, or the cropped rows when there is no vertical pass.
	first, last := crop.Min.Y, crop.Max.Y
	var vBounds []int
	var vWeights [][]int32
	if height != img.Height {
		vBounds, vWeights = resampleCoefficients(img.Height, height, f, crop.Min.Y, crop.Max.Y)
		first, last = vBounds[0], vBounds[ch-1]+len(vWeights[ch-1]) // Bounds do not decrease.
	}
	var tmp *Image
	switch {
	case width != img.Width:
		bounds, weights := resampleCoefficients(img.Width, width, f, crop.Min.X, crop.Max.X)
		tmp = &Image{Width: cw, Height: last - first, Pix: make([]uint8, cw*(last-first)*3)}
		for y := first; y < last; y++ {
			in := img.Pix[y*img.Width*3 : (y+1)*img.Width*3]
			out := tmp.Pix[(y-first)*cw*3 : (y-first+1)*cw*3]
			for x := 0; x < cw; x++ {
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
	case cw == img.Width:
		// No horizontal pass and every column kept: the vertical pass reads the input's rows in place.
		tmp = &Image{Width: cw, Height: last - first, Pix: img.Pix[first*cw*3 : last*cw*3]}
	default:
		tmp = subImage(img, image.Rect(crop.Min.X, first, crop.Max.X, last))
	}
	if height == img.Height {
		return tmp // A new image: the vertical pass is skipped only where the horizontal one was made.
	}
	// The vertical pass accumulates whole rows, reading the input sequentially (integer sums: the
	// order does not change the result).
	out := &Image{Width: cw, Height: ch, Pix: make([]uint8, cw*ch*3)}
	rowLen := cw * 3
	acc := make([]int32, rowLen)
	for y := 0; y < ch; y++ {
		for j := range acc {
			acc[j] = half
		}
		top := vBounds[y] - first
		for i, w := range vWeights[y] {
			row := tmp.Pix[(top+i)*rowLen : (top+i+1)*rowLen]
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

// subImage returns a copy of img's pixels within r.
func subImage(img *Image, r image.Rectangle) *Image {
	out := &Image{Width: r.Dx(), Height: r.Dy(), Pix: make([]uint8, r.Dx()*r.Dy()*3)}
	rowLen := out.Width * 3
	for y := r.Min.Y; y < r.Max.Y; y++ {
		start := (y*img.Width + r.Min.X) * 3
		copy(out.Pix[(y-r.Min.Y)*rowLen:], img.Pix[start:start+rowLen])
	}
	return out
}

// clipFixed is Pillow's clip8: the fixed-point sum rounded (it starts at one half) to 8 bits, clipped to
// [0, 255] (the bicubic filter's negative lobes overshoot).
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

// resampleCoefficients is Pillow's precompute_coeffs followed by normalize_coeffs_8bpc, for the output
// positions lo to hi-1 of inSize resampled to outSize with filter f: for each, the first input index and
// the fixed-point weights (bounds[i] and weights[i] are those of position lo+i).
func resampleCoefficients(inSize, outSize int, f Filter, lo, hi int) (bounds []int, weights [][]int32) {
	scale := float64(inSize) / float64(outSize)
	filterScale := max(scale, 1)
	support := f.support() * filterScale
	ss := 1 / filterScale
	ksize := int(math.Ceil(support))*2 + 1
	bounds = make([]int, hi-lo)
	weights = make([][]int32, hi-lo)
	pre := make([]float64, ksize)
	fixed := make([]int32, (hi-lo)*ksize)
	for xx := lo; xx < hi; xx++ {
		center := (float64(xx) + 0.5) * scale
		xmin := max(int(center-support+0.5), 0) // int() truncates toward zero, as C's cast.
		xmax := min(int(center+support+0.5), inSize) - xmin
		total := 0.0
		for x := 0; x < xmax; x++ {
			w := f.weight((float64(x+xmin) - center + 0.5) * ss)
			pre[x] = w
			total += w
		}
		k := fixed[(xx-lo)*ksize : (xx-lo)*ksize+xmax]
		for x := range k {
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
		bounds[xx-lo], weights[xx-lo] = xmin, k
	}
	return bounds, weights
}
