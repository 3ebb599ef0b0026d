package augment

import (
	"math"
	"strconv"

	"github.com/vegclf/vegclf/vegclf/rgb"
)

// Op is one of the image operations of torchvision's automatic augmentation policies (TrivialAugmentWide
// and RandAugment), done as torchvision 0.14 does them on a PIL image: Pillow 9's operations, nearest
// neighbour resampling for the geometric ones, filled with black.
type Op int

// The operations, in the order of torchvision's augmentation spaces (the policies draw them by index).
const (
	Identity Op = iota
	ShearX
	ShearY
	TranslateX
	TranslateY
	Rotate
	Brightness
	Color
	Contrast
	Sharpness
	Posterize
	Solarize
	AutoContrast
	Equalize
	numOps
)

var opNames = [numOps]string{"Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness",
	"Color", "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize"}

// Ops returns every operation, in torchvision's order.
func Ops() []Op {
	ops := make([]Op, numOps)
	for i := range ops {
		ops[i] = Op(i)
	}
	return ops
}

// String returns torchvision's name of the operation: "ShearX".
func (o Op) String() string {
	if o >= 0 && o < numOps {
		return opNames[o]
	}
	return "Op(" + strconv.Itoa(int(o)) + ")"
}

// OpByName returns the operation torchvision calls name.
func OpByName(name string) (Op, bool) {
	for i, n := range opNames {
		if n == name {
			return Op(i), true
		}
	}
	return 0, false
}

// Apply returns a new image: img with the operation at the given (signed) magnitude, as torchvision's
// _apply_op does it to a PIL image. Magnitudes mean what they mean there: shears the shear factor (the
// tangent of the angle), translations pixels (truncated to whole ones), rotations degrees counter-clockwise,
// brightness, colour, contrast and sharpness 1+magnitude as Pillow's ImageEnhance factor, posterization
// the bits kept, solarization the threshold; the others take none.
func (o Op) Apply(img *rgb.Image, magnitude float64) *rgb.Image {
	w, h := float64(img.Width), float64(img.Height)
	switch o {
	case ShearX:
		return affine(img, inverseAffine(0, 0, 0, 0, 0, degrees(math.Atan(magnitude)), 0))
	case ShearY:
		return affine(img, inverseAffine(0, 0, 0, 0, 0, 0, degrees(math.Atan(magnitude))))
	case TranslateX:
		return affine(img, inverseAffine(w*0.5, h*0.5, 0, float64(int(magnitude)), 0, 0, 0))
	case TranslateY:
		return affine(img, inverseAffine(w*0.5, h*0.5, 0, 0, float64(int(magnitude)), 0, 0))
	case Rotate:
		return rotatePillow(img, magnitude)
	case Brightness:
		return blend(rgb.New(img.Width, img.Height), img, float32(1+magnitude))
	case Color:
		return blend(grayscale(img), img, float32(1+magnitude))
	case Contrast:
		return blend(meanGray(img), img, float32(1+magnitude))
	case Sharpness:
		return blend(smooth(img), img, float32(1+magnitude))
	case Posterize:
		mask := ^uint8(1<<(8-int(magnitude)) - 1)
		return lookup(img, func(_ int, v uint8) uint8 { return v & mask })
	case Solarize:
		return lookup(img, func(_ int, v uint8) uint8 {
			if float64(v) < magnitude {
				return v
			}
			return 255 - v
		})
	case AutoContrast:
		return autoContrast(img)
	case Equalize:
		return equalize(img)
	}
	return &rgb.Image{Width: img.Width, Height: img.Height, Pix: append([]uint8(nil), img.Pix...)}
}

// Python's math.degrees and math.radians: a product by the constant ratio.
const (
	radToDeg = 180.0 / math.Pi
	degToRad = math.Pi / 180.0
)

func degrees(x float64) float64 { return x * radToDeg }
func radians(x float64) float64 { return x * degToRad }

// inverseAffine is the matrix that torchvision's affine on a PIL image gives Pillow: the inverse of the
// rotation by angle degrees, shears shearX and shearY degrees and translation (tx, ty) about the centre
// (cx, cy), unscaled. It maps each output pixel back to the input. The expressions are evaluated in the
// same order as torchvision's, so that the rounding is the same.
func inverseAffine(cx, cy, angle, tx, ty, shearX, shearY float64) [6]float64 {
	rot, sx, sy := radians(angle), radians(shearX), radians(shearY)
	a := math.Cos(rot-sy) / math.Cos(sy)
	b := -math.Cos(rot-sy)*math.Tan(sx)/math.Cos(sy) - math.Sin(rot)
	c := math.Sin(rot-sy) / math.Cos(sy)
	d := -math.Sin(rot-sy)*math.Tan(sx)/math.Cos(sy) + math.Cos(rot)
	m := [6]float64{d, -b, 0, -c, a, 0}
	m[2] += float64(m[0]*(-cx-tx)) + float64(m[1]*(-cy-ty))
	m[5] += float64(m[3]*(-cx-tx)) + float64(m[4]*(-cy-ty))
	m[2] += cx
	m[5] += cy
	return m
}

// rotatePillow is Pillow's Image.rotate(angle, NEAREST, fillcolor=black) without expansion: a copy at 0
// degrees, exact transpositions at 180 (and 90 and 270 for a square image), else the affine map about
// the centre with its coefficients rounded to 15 decimals as Pillow rounds them.
func rotatePillow(img *rgb.Image, angle float64) *rgb.Image {
	angle = math.Mod(angle, 360) // Python's %: the result takes the divisor's sign.
	if angle < 0 {
		angle += 360
	}
	w, h := img.Width, img.Height
	switch {
	case angle == 0:
		return Identity.Apply(img, 0)
	case angle == 180:
		return transpose(img, w, h, func(x, y int) (int, int) { return w - 1 - x, h - 1 - y })
	case angle == 90 && w == h:
		return transpose(img, h, w, func(x, y int) (int, int) { return w - 1 - y, x })
	case angle == 270 && w == h:
		return transpose(img, h, w, func(x, y int) (int, int) { return y, h - 1 - x })
	}
	cx, cy := float64(w)/2, float64(h)/2
	r := -radians(angle)
	m := [6]float64{round15(math.Cos(r)), round15(math.Sin(r)), 0, round15(-math.Sin(r)), round15(math.Cos(r)), 0}
	m[2], m[5] = float64(m[0]*-cx)+float64(m[1]*-cy)+m[2], float64(m[3]*-cx)+float64(m[4]*-cy)+m[5]
	m[2] += cx
	m[5] += cy
	return affine(img, m)
}

// round15 is Python's round(x, 15): x rounded to 15 decimals, correctly.
func round15(x float64) float64 {
	v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 15, 64), 64)
	return v
}

// transpose returns the w x h image whose pixel (x, y) is img's at src(x, y).
func transpose(img *rgb.Image, w, h int, src func(x, y int) (int, int)) *rgb.Image {
	out := rgb.New(w, h)
	for y := range h {
		for x := range w {
			sx, sy := src(x, y)
			copy(out.Pix[(y*w+x)*3:(y*w+x)*3+3], img.Pix[(sy*img.Width+sx)*3:])
		}
	}
	return out
}

// affine is Pillow's Image.transform(size, AFFINE, m, NEAREST) with a black fill: output pixel (x, y)
// takes the input pixel at m applied to its centre, (x+0.5, y+0.5). Like Pillow, it takes a row and a
// column table when the map only scales and translates, 16.16 fixed-point arithmetic when the image's
// corners map within ±32768, and floating point otherwise; each floors the coordinates.
func affine(img *rgb.Image, m [6]float64) *rgb.Image {
	w, h := img.Width, img.Height
	out := rgb.New(w, h)
	put := func(x, y, sx, sy int) {
		if sx >= 0 && sx < w && sy >= 0 && sy < h {
			copy(out.Pix[(y*w+x)*3:(y*w+x)*3+3], img.Pix[(sy*w+sx)*3:])
		}
	}
	// coord is Pillow's COORD: -1 for any negative coordinate, else truncated.
	coord := func(v float64) int {
		if v < 0 {
			return -1
		}
		return int(v)
	}
	if m[1] == 0 && m[3] == 0 {
		cols := make([]int, w)
		xo := m[2] + m[0]*0.5
		for x := range w {
			cols[x] = coord(xo)
			xo += m[0]
		}
		yo := m[5] + m[4]*0.5
		for y := range h {
			sy := coord(yo)
			for x := range w {
				put(x, y, cols[x], sy)
			}
			yo += m[4]
		}
		return out
	}
	fits := func(x, y float64) bool {
		return math.Abs(float64(x*m[0])+float64(y*m[1])+m[2]) < 32768 && math.Abs(float64(x*m[3])+float64(y*m[4])+m[5]) < 32768
	}
	if fits(0, 0) && fits(float64(w), float64(h)) && fits(0, float64(h)) && fits(float64(w), 0) {
		fix := func(v float64) int32 { return int32(math.Floor(v*65536 + 0.5)) }
		a0, a1, a3, a4 := fix(m[0]), fix(m[1]), fix(m[3]), fix(m[4])
		a2 := fix(m[2] + m[0]*0.5 + m[1]*0.5)
		a5 := fix(m[5] + m[3]*0.5 + m[4]*0.5)
		for y := range h {
			xx, yy := a2, a5
			for x := range w {
				put(x, y, int(xx>>16), int(yy>>16))
				xx += a0
				yy += a3
			}
			a2 += a1
			a5 += a4
		}
		return out
	}
	xo := m[2] + m[1]*0.5 + m[0]*0.5
	yo := m[5] + m[4]*0.5 + m[3]*0.5
	for y := range h {
		xx, yy := xo, yo
		for x := range w {
			put(x, y, coord(xx), coord(yy))
			xx += m[0]
			yy += m[3]
		}
		xo += m[1]
		yo += m[4]
	}
	return out
}

// blend is Pillow's Image.blend(a, b, alpha), how ImageEnhance applies a factor: a + alpha*(b-a) in
// float32, truncated, and clipped to [0, 255] when alpha extrapolates.
func blend(a, b *rgb.Image, alpha float32) *rgb.Image {
	switch alpha {
	case 0:
		return a
	case 1:
		return Identity.Apply(b, 0)
	}
	out := rgb.New(b.Width, b.Height)
	for i := range out.Pix {
		v := float32(a.Pix[i]) + float32(alpha*float32(int(b.Pix[i])-int(a.Pix[i])))
		switch {
		case v <= 0:
			out.Pix[i] = 0
		case v >= 255:
			out.Pix[i] = 255
		default:
			out.Pix[i] = uint8(v)
		}
	}
	return out
}

// grayscale is Pillow's convert("L").convert("RGB"): each pixel's luminance in its three channels.
func grayscale(img *rgb.Image) *rgb.Image {
	out := rgb.New(img.Width, img.Height)
	for i := 0; i < len(img.Pix); i += 3 {
		l := rgb.Luminance(img.Pix[i], img.Pix[i+1], img.Pix[i+2])
		out.Pix[i], out.Pix[i+1], out.Pix[i+2] = l, l, l
	}
	return out
}

// meanGray is the degenerate image of Pillow's ImageEnhance.Contrast: every pixel the mean luminance,
// rounded (int(mean + 0.5)).
func meanGray(img *rgb.Image) *rgb.Image {
	var sum float64
	for i := 0; i < len(img.Pix); i += 3 {
		sum += float64(rgb.Luminance(img.Pix[i], img.Pix[i+1], img.Pix[i+2]))
	}
	mean := uint8(int(sum/float64(len(img.Pix)/3) + 0.5))
	out := rgb.New(img.Width, img.Height)
	for i := range out.Pix {
		out.Pix[i] = mean
	}
	return out
}

// smooth is Pillow's filter(ImageFilter.SMOOTH), the degenerate image of ImageEnhance.Sharpness: the 3x3
// kernel (1 1 1, 1 5 1, 1 1 1)/13 in float32, rounded by adding 0.5 and truncating, the border pixels
// kept.
func smooth(img *rgb.Image) *rgb.Image {
	w, h := img.Width, img.Height
	out := Identity.Apply(img, 0)
	if w < 3 || h < 3 {
		return out
	}
	k1, k5 := float32(1.0/13.0), float32(5.0/13.0)
	row := func(p []uint8, i int, centre float32) float32 {
		return float32(float32(float32(p[i-3])*k1)+float32(float32(p[i])*centre)) + float32(float32(p[i+3])*k1)
	}
	for y := 1; y < h-1; y++ {
		above, here, below := img.Pix[(y-1)*w*3:y*w*3], img.Pix[y*w*3:(y+1)*w*3], img.Pix[(y+1)*w*3:(y+2)*w*3]
		for x := 1; x < w-1; x++ {
			for c := range 3 {
				i := x*3 + c
				ss := float32(0.5)
				ss += row(below, i, k1)
				ss += row(here, i, k5)
				ss += row(above, i, k1)
				switch {
				case ss <= 0:
					ss = 0
				case ss >= 255:
					ss = 255
				}
				out.Pix[(y*w+x)*3+c] = uint8(ss)
			}
		}
	}
	return out
}

// lookup maps every channel value through f(channel, value), as Pillow's point with a table per band.
func lookup(img *rgb.Image, f func(c int, v uint8) uint8) *rgb.Image {
	var table [3][256]uint8
	for c := range 3 {
		for v := range 256 {
			table[c][v] = f(c, uint8(v))
		}
	}
	out := rgb.New(img.Width, img.Height)
	for i, v := range img.Pix {
		out.Pix[i] = table[i%3][v]
	}
	return out
}

// histograms counts each channel's values.
func histograms(img *rgb.Image) *[3][256]int {
	var hist [3][256]int
	for i, v := range img.Pix {
		hist[i%3][v]++
	}
	return &hist
}

// autoContrast is Pillow's ImageOps.autocontrast(img) (no cutoff): each channel stretched linearly so
// that its darkest value becomes 0 and its brightest 255 (truncated), a channel of one value kept.
func autoContrast(img *rgb.Image) *rgb.Image {
	var table [3][256]uint8
	for c, h := range histograms(img) {
		lo, hi := 0, 255
		for lo < 255 && h[lo] == 0 {
			lo++
		}
		for hi > 0 && h[hi] == 0 {
			hi--
		}
		for v := range 256 {
			table[c][v] = uint8(v)
			if hi > lo {
				scale := 255.0 / float64(hi-lo)
				offset := float64(-lo) * scale
				table[c][v] = uint8(max(0, min(255, int(float64(v)*scale+offset))))
			}
		}
	}
	return lookup(img, func(c int, v uint8) uint8 { return table[c][v] })
}

// equalize is Pillow's ImageOps.equalize(img): each channel's values mapped through its cumulative
// histogram in steps of (pixels - the last used value's count) / 255, a channel with one value (or too few
// pixels for a step) kept.
func equalize(img *rgb.Image) *rgb.Image {
	var table [3][256]uint8
	for c, h := range histograms(img) {
		total, last, used := 0, 0, 0
		for _, n := range h {
			if n > 0 {
				total += n
				last = n
				used++
			}
		}
		step := 0
		if used > 1 {
			step = (total - last) / 255
		}
		n := step / 2
		for v := range 256 {
			table[c][v] = uint8(v)
			if step > 0 {
				table[c][v] = uint8(min(255, n/step))
				n += h[v]
			}
		}
	}
	return lookup(img, func(c int, v uint8) uint8 { return table[c][v] })
}
