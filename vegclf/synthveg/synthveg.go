// Package synthveg draws a small synthetic vegetable dataset in the tutorial's layout
// (train/, test/, validation/, one folder per class, JPEG files), so that the recipe can run end to end
// with no download. Each class is a vegetable-like shape with its own color, at a random position, size
// and angle, on a random light background with noise: easy for a CNN, not trivial.
package synthveg

import (
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// Vegetable is one class: a color and a shape (an ellipse of the given aspect ratio, or a cone).
type Vegetable struct {
	Name   string
	Color  color.NRGBA
	Aspect float64 // Length / width.
	Cone   bool    // Tapers to a point (carrot, radish root).
}

// Vegetables are the classes drawn, in the Kaggle dataset's spirit.
var Vegetables = []Vegetable{
	{"Bean", color.NRGBA{90, 170, 60, 255}, 4.5, false},
	{"Carrot", color.NRGBA{240, 130, 30, 255}, 3.5, true},
	{"Eggplant", color.NRGBA{90, 40, 110, 255}, 1.8, false},
	{"Tomato", color.NRGBA{215, 35, 35, 255}, 1.0, false},
	{"Potato", color.NRGBA{190, 150, 90, 255}, 1.4, false},
	{"Radish", color.NRGBA{220, 60, 120, 255}, 1.1, true},
}

// Options say how much to draw.
type Options struct {
	Classes    int // The first Classes vegetables (at most len(Vegetables)).
	Train      int // Images per class in train/.
	Test       int // Images per class in test/ (0: no test split).
	Validation int // Images per class in validation/ (0: no validation split).
	Size       int // Image side in pixels.
	Seed       uint64
}

// Generate writes the dataset under root and returns the number of images written.
func Generate(root string, o Options) (int, error) {
	if o.Classes < 1 || o.Classes > len(Vegetables) {
		return 0, fmt.Errorf("synthveg: %d classes (want 1 to %d)", o.Classes, len(Vegetables))
	}
	if o.Size < 8 {
		return 0, fmt.Errorf("synthveg: image size %d is too small", o.Size)
	}
	n := 0
	for s, split := range []struct {
		name  string
		count int
	}{{"train", o.Train}, {"test", o.Test}, {"validation", o.Validation}} {
		if split.count == 0 {
			continue
		}
		for c, veg := range Vegetables[:o.Classes] {
			dir := filepath.Join(root, split.name, veg.Name)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return n, fmt.Errorf("synthveg: %w", err)
			}
			rng := rand.New(rand.NewPCG(o.Seed, uint64(s*1000+c)))
			for i := 0; i < split.count; i++ {
				img := Draw(veg, o.Size, rng)
				path := filepath.Join(dir, fmt.Sprintf("%04d.jpg", i+1))
				if err := writeJPEG(path, img); err != nil {
					return n, err
				}
				n++
			}
		}
	}
	return n, nil
}

// Draw renders one image of the vegetable.
func Draw(v Vegetable, size int, rng *rand.Rand) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	bg := [3]float64{200 + rng.Float64()*50, 200 + rng.Float64()*50, 190 + rng.Float64()*50}
	s := float64(size)
	cx, cy := s*(0.35+0.3*rng.Float64()), s*(0.35+0.3*rng.Float64())
	length := s * (0.45 + 0.3*rng.Float64())
	width := length / v.Aspect
	if v.Aspect < 1.3 {
		width = length / v.Aspect * 0.8
		length = width * v.Aspect
	}
	angle := rng.Float64() * math.Pi
	cos, sin := math.Cos(angle), math.Sin(angle)
	shade := 0.85 + 0.3*rng.Float64()
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			dx, dy := float64(x)+0.5-cx, float64(y)+0.5-cy
			u := (dx*cos + dy*sin) / (length / 2) // Along the vegetable, -1..1.
			w := (-dx*sin + dy*cos) / (width / 2)
			half := 1.0
			if v.Cone {
				half = math.Max(0, (1-u)/2) * 1.6 // Wide at u=-1, a point at u=1.
			}
			inside := u*u+math.Pow(w/math.Max(half, 1e-6), 2) <= 1
			var c [3]float64
			if inside {
				light := shade * (1.1 - 0.35*(w*w)) // Rounded look.
				c = [3]float64{float64(v.Color.R) * light, float64(v.Color.G) * light, float64(v.Color.B) * light}
			} else {
				c = bg
			}
			for k := range c {
				c[k] += rng.NormFloat64() * 8
			}
			img.SetNRGBA(x, y, color.NRGBA{clamp(c[0]), clamp(c[1]), clamp(c[2]), 255})
		}
	}
	return img
}

func clamp(v float64) uint8 {
	return uint8(math.Max(0, math.Min(255, math.Round(v))))
}

func writeJPEG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("synthveg: %w", err)
	}
	if err := jpeg.Encode(f, img, &jpeg.Options{Quality: 90}); err != nil {
		f.Close()
		return fmt.Errorf("synthveg: writing %s: %w", path, err)
	}
	return f.Close()
}
