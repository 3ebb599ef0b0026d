// Package notebook shows a run in a GoNB notebook: settings from flags and the environment, sample
// images, a live progress bar and training curves, the evaluation's pictures and single-image
// predictions. Cells stay thin: each is a call or two into this package and the library. Outside a
// notebook the display calls do nothing, and text still goes to stdout.
package notebook

import (
	"fmt"
	"html"
	"image/color"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/compute"
	"github.com/janpfeifer/gonb/gonbui"
	"github.com/vegclf/vegclf/vegclf/augment"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/rgb"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/synthveg"
	"github.com/vegclf/vegclf/vegclf/train"
	"github.com/vegclf/vegclf/vegclf/viz"
	"github.com/vegclf/vegclf/vegclf/weights"
	"github.com/vegclf/vegclf/vegclf/zoo"
	"gonum.org/v1/plot/vg"
)

// showHTML displays html in the cell's output and waits until GoNB has it: the cell's program may exit
// right after, and GoNB can drop what is still in its pipe then (seen once in CI: a table and charts
// missing under their text).
func showHTML(html string) {
	gonbui.DisplayHTML(html)
	gonbui.Sync()
}

// showPNG displays a PNG image as showHTML displays HTML.
func showPNG(png []byte) {
	gonbui.DisplayPNG(png)
	gonbui.Sync()
}

// ShowSamples displays a grid of n images of the split, chosen by a seeded shuffle, with their class
// names, like the tutorial's show_sample_images.
func ShowSamples(split *data.Split, classes []string, n, cols int, seed uint64) {
	idx := rand.New(rand.NewPCG(seed, 1)).Perm(len(split.Samples))
	var items []viz.Labeled
	for _, i := range idx[:min(n, len(idx))] {
		s := split.Samples[i]
		items = append(items, viz.Labeled{Path: s.Path, Caption: classes[s.Label]})
	}
	showPNG(viz.PNG(viz.Grid(items, cols, 112)))
}

// Live attaches a progress bar and training curves, updated in place, to a run. The report lines still
// go to stdout.
func Live(r *train.Run) {
	progressID, plotID := "progress_"+gonbui.UniqueId(), "curves_"+gonbui.UniqueId()
	r.Report = os.Stdout
	var epochs []viz.EpochFigures
	r.OnProgress = func(p train.Progress) {
		pct := 100 * p.Done / max(p.Total, 1)
		gonbui.UpdateHTML(progressID, fmt.Sprintf(
			`<div style="font-family:monospace">%s epoch %d/%d, %s: %d/%d <progress value="%d" max="100" style="width:240px"></progress> %s %s</div>`,
			p.Phase, p.Epoch, p.Epochs, p.Stage, p.Done, p.Total, pct, p.Elapsed.Round(1e9), html.EscapeString(p.Timing())))
	}
	r.OnEpoch = func(m runfolder.EpochMetrics) {
		epochs = append(epochs, figures(m))
		curves, err := viz.TrainingCurves(epochs)
		if err != nil {
			curves = html.EscapeString(err.Error())
		}
		gonbui.UpdateHTML(plotID, curves)
		gonbui.Sync() // The last epoch's curves reach the page before the cell ends.
	}
}

func figures(m runfolder.EpochMetrics) viz.EpochFigures {
	return viz.EpochFigures{Phase: string(m.Phase), Epoch: m.Epoch, TrainLoss: m.TrainLoss, TestLoss: m.TestLoss,
		TrainAccuracy: m.TrainAccuracy, TestAccuracy: m.TestAccuracy}
}

// ShowCurves displays the training curves of a run folder's metrics.
func ShowCurves(dir string) error {
	metrics, err := runfolder.ReadMetrics(dir)
	if err != nil {
		return err
	}
	var epochs []viz.EpochFigures
	for _, m := range metrics {
		epochs = append(epochs, figures(m))
	}
	curves, err := viz.TrainingCurves(epochs)
	if err != nil {
		return err
	}
	showHTML(curves)
	return nil
}

// ShowEvaluation displays the confusion matrix with per-class accuracy, and up to n misclassified
// images with their true and predicted classes; a multi-label model's evaluation, as its text report
// (mean average precision, F1s, and the per-class table).
func ShowEvaluation(res *evaluate.Result, n int) {
	if res.MultiLabel != nil {
		res.WriteReport(os.Stdout)
		return
	}
	fmt.Printf("Accuracy: %.2f%% (%d of %d), loss %.6f\n", 100*res.Accuracy, res.Correct, res.Total, res.Loss)
	showPNG(viz.PNG(viz.ConfusionMatrix(res.Classes, res.Confusion)))
	confused := res.MostConfused(1)
	for _, c := range confused[:min(5, len(confused))] {
		fmt.Printf("most confused: %s taken for %s %d times\n", c.True, c.Predicted, c.Count)
	}
	wrong := res.Misclassified()
	if len(wrong) == 0 {
		showHTML("<p>No misclassified images.</p>")
		return
	}
	if n == 0 {
		return
	}
	var items []viz.Labeled
	for _, s := range wrong[:min(n, len(wrong))] {
		items = append(items, viz.Labeled{Path: s.Path, Color: redish,
			Caption: fmt.Sprintf("%s → %s %.0f%%", res.Classes[s.Label], res.Classes[s.Predicted], 100*s.Prob)})
	}
	showHTML(fmt.Sprintf("<p>%d misclassified images, the most confident mistakes first (true → predicted):</p>", len(wrong)))
	showPNG(viz.PNG(viz.Grid(items, 4, 112)))
}

// ShowPredictions predicts each image's top k classes (a multi-label classifier's: every class above its
// threshold, Classifier.Files) and displays the image with them.
func ShowPredictions(c *predict.Classifier, paths []string, k int) error {
	preds, err := c.Files(paths, k)
	if err != nil {
		return err
	}
	for _, p := range preds {
		if p.Err != nil {
			showHTML("<p>" + html.EscapeString(p.Err.Error()) + "</p>")
			continue
		}
		labels, probs := bars(p.Top)
		fmt.Println(p.Text())
		showPNG(viz.PNG(viz.Prediction(p.Image, labels, probs, 112)))
	}
	return nil
}

var redish = color.NRGBA{180, 20, 20, 255}

// Pretrained returns spec when those weights for arch are at hand (a file, or a registry entry in the
// cache), and otherwise "none" with a message saying how to get them.
func Pretrained(spec, arch string) (string, string) {
	if strings.EqualFold(spec, "none") {
		return "none", "No pretrained weights: the backbone starts from random initialization."
	}
	cache, err := weights.CacheDir()
	if err == nil {
		var k *weights.Known
		if _, k, err = zoo.ResolveWeights(spec, arch, cache); k != nil {
			spec = k.Name // DEFAULT, IMAGENET1K_V2, ... as the registry names them.
		}
	}
	if err != nil {
		return "none", fmt.Sprintf("Pretrained weights %q are not available (%v).\nSo this notebook trains from random "+
			"initialization, with settings that learn from it (recipe.FromScratch: %s) instead of the tutorial's, but for those "+
			"given (flags or environment).", spec, err, recipe.FromScratchSettings())
	}
	return spec, fmt.Sprintf("Pretrained weights: %s.", spec)
}

// Synthetic returns dir when it holds a dataset, and otherwise draws a small vegetable dataset there
// (classes x perClass training images of size x size pixels, and a third of that for test and
// validation).
func Synthetic(dir string, classes, perClass, size int) (string, error) {
	if _, err := os.Stat(dir + "/train"); err == nil {
		return dir, nil
	}
	n, err := synthveg.Generate(dir, synthveg.Options{Classes: classes, Train: perClass, Test: max(perClass/3, 1),
		Validation: max(perClass/3, 1), Size: size})
	if err != nil {
		return "", err
	}
	fmt.Printf("Generated %d synthetic vegetable images in %s\n", n, dir)
	return dir, nil
}

// ShowGradCAM displays, for each image, where the model looked: the Grad-CAM map of its predicted class
// (Explanation.Mapped: a multi-label classifier's first class above its threshold, else its most probable)
// on the last stage, over the image.
func ShowGradCAM(b compute.Backend, c *predict.Classifier, paths []string) error {
	e, err := NewExplainer(b, c)
	if err != nil {
		return err
	}
	for _, p := range paths {
		x, err := e.Explain(p, 1)
		if err != nil {
			return fmt.Errorf("explaining %s: %w", p, err)
		}
		caption := fmt.Sprintf("%s %.0f%%", x.Mapped.Label, 100*x.Mapped.Prob)
		fmt.Printf("%s: Grad-CAM of %s\n", p, caption)
		showPNG(viz.PNG(viz.Saliency(p, x.Map, 160, caption)))
	}
	return nil
}

// ShowAugmented displays each of the first n images of the split as the training loader would see it
// under augmentation, in cols variants (the original first).
func ShowAugmented(split *data.Split, classes []string, a *augment.Policy, n, cols int) error {
	return ShowAugmentation(split, classes, Augmentation{Crops: a}, n, cols)
}

// Augmentation is what a sample grid of augmented images draws, as the training loader applies it: the
// crops, flips, rotations and colour jitter (Crops; nil: none), then, on the image resized to Size x Size,
// an automatic augmentation policy (TrivialAugment or RandAugment) and random erasing, shown in the
// colour that normalizes to 0, the normalization's mean (torchvision erases the normalized tensor).
type Augmentation struct {
	Crops   *augment.Policy
	Policy  augment.AutoPolicy
	Erasing augment.Erasing
	Size    int        // The training image size the policy sees; 0: the policy and erasing see the image as it is.
	Mean    [3]float32 // The normalization's mean, the erased colour.
}

// ShowAugmentation displays each of the first n images of the split as the training loader would see it
// under augmentation a, in cols variants (the original first), each captioned with the policy's
// operations.
func ShowAugmentation(split *data.Split, classes []string, a Augmentation, n, cols int) error {
	items, err := augmentedSamples(split, classes, a, n, cols)
	if err != nil {
		return err
	}
	showPNG(viz.PNG(viz.Grid(items, cols, 112)))
	return nil
}

// augmentedSamples returns ShowAugmentation's grid: per image, the original, then cols-1 draws of a, draw v
// of image i seeded by (i, v), one stream per augmentation as the loader has them (the crops' stream is
// the one ShowAugmented always drew them from).
func augmentedSamples(split *data.Split, classes []string, a Augmentation, n, cols int) ([]viz.Labeled, error) {
	var items []viz.Labeled
	for i, s := range split.Samples[:min(n, len(split.Samples))] {
		img, err := rgb.DecodeFile(s.Path, 0)
		if err != nil {
			return nil, err
		}
		items = append(items, viz.Labeled{Image: img, Caption: classes[s.Label] + " (original)"})
		for v := 1; v < cols; v++ {
			out, caption := img, fmt.Sprintf("augmented %d", v)
			rng := func(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(uint64(i), uint64(v)|stream<<32)) }
			if a.Crops != nil {
				out = a.Crops.Apply(out, rng(0))
			}
			if (a.Policy.Enabled() || a.Erasing.P > 0) && a.Size > 0 {
				out = rgb.Resize(out, a.Size, a.Size)
			}
			if a.Policy.Enabled() {
				var ops []string
				for _, d := range a.Policy.Draw(out.Width, out.Height, rng(1)) {
					out = d.Op.Apply(out, d.Magnitude)
					ops = append(ops, fmt.Sprintf("%s %.3g", d.Op, d.Magnitude))
				}
				caption = strings.Join(ops, ", ")
			}
			if r, ok := a.Erasing.Draw(out.Width, out.Height, rng(2)); ok {
				if out == img {
					out = &rgb.Image{Width: img.Width, Height: img.Height, Pix: slices.Clone(img.Pix)}
				}
				for y := r.Y; y < r.Y+r.H; y++ {
					for x := r.X; x < r.X+r.W; x++ {
						for c := range 3 {
							out.Pix[(y*out.Width+x)*3+c] = uint8(math.Round(float64(a.Mean[c]) * 255))
						}
					}
				}
				caption += ", erased"
			}
			items = append(items, viz.Labeled{Image: out, Caption: caption})
		}
	}
	return items, nil
}

// ShowMixed displays pairs of the split's images mixed by mixup and by cutmix as training sees them,
// each captioned with its soft target, for n pairs.
func ShowMixed(split *data.Split, classes []string, mixupAlpha, cutmixAlpha float64, n int) error {
	const size = 112
	var items []viz.Labeled
	samples := split.Samples
	for i := 0; i < n && 2*i+1 < len(samples); i++ {
		a, b := samples[i], samples[len(samples)-1-i]
		var pixels []float32
		for _, s := range []data.Sample{a, b} {
			img, err := rgb.DecodeFile(s.Path, 0)
			if err != nil {
				return err
			}
			for _, v := range rgb.Resize(img, size, size).Pix {
				pixels = append(pixels, float32(v))
			}
		}
		labels := []int32{int32(a.Label), int32(b.Label)}
		for _, mix := range []augment.Mix{{Mixup: mixupAlpha}, {Cutmix: cutmixAlpha}} {
			if !mix.Enabled() {
				continue
			}
			m, err := mix.Apply(pixels, labels, size, size, len(classes), rand.New(rand.NewPCG(uint64(i), 7)))
			if err != nil {
				return err
			}
			img := &rgb.Image{Width: size, Height: size, Pix: make([]uint8, size*size*3)}
			for j := range img.Pix {
				img.Pix[j] = uint8(math.Round(float64(m.Pixels[j])))
			}
			kind := "mixup"
			if m.Cutmix {
				kind = "cutmix"
			}
			caption := fmt.Sprintf("%s: %.0f%% %s, %.0f%% %s", kind, 100*m.Lambda, classes[a.Label], 100*(1-m.Lambda), classes[b.Label])
			items = append(items, viz.Labeled{Image: img, Caption: caption})
		}
	}
	if len(items) == 0 {
		return fmt.Errorf("show mixed: no mixing asked, or fewer than 2 images")
	}
	showPNG(viz.PNG(viz.Grid(items, 2, 240)))
	return nil
}

// ShowLRFind runs the LR finder for cfg's phase over steps batches on a copy of the model, draws the
// loss against the rate and prints the suggestions. It runs in runDir when no run is there yet (the run
// trained there then reuses the cached features), else in a temporary folder.
func ShowLRFind(cfg recipe.Config, b compute.Backend, runDir string, phase runfolder.Phase, steps int) (*train.LRFind, error) {
	found, err := train.SweepLR(cfg, b, runDir, phase, 1e-7, 10, steps)
	if err != nil {
		return nil, err
	}
	title := fmt.Sprintf("LR finder (%s, %d steps): loss against learning rate", phase, len(found.Rates))
	chart, err := viz.LRFinder(title, found.Rates, found.Losses, found.Suggestions())
	if err != nil {
		return nil, err
	}
	showHTML(chart)
	fmt.Printf("Suggested learning rate: %.3g (steepest descent); %.3g (minimum / 10)\n", found.Steepest, found.MinOver)
	return found, nil
}

// ShowSchedule draws the learning rate of every step of both phases of cfg (the head's, when fine-tuning
// spreads rates over the layer groups), for a training split of trainImages images.
func ShowSchedule(cfg recipe.Config, trainImages int) error {
	steps := (trainImages + cfg.Batch - 1) / cfg.Batch
	x, rates, marks := scheduleSeries(cfg, steps)
	chart, err := viz.Plot{Title: "Learning rate per step (" + cfg.Schedule.String() + ", " + strconv.Itoa(steps) + " steps an epoch)",
		XLabel: "training step", YLabel: "learning rate (log scale)", LogY: true, IntegerX: true, Marks: marks,
		Width: 7 * vg.Inch, Lines: []viz.Line{{Name: "learning rate", X: x, Y: rates}}}.SVG()
	if err != nil {
		return err
	}
	showHTML(chart)
	return nil
}

// scheduleSeries returns the learning rate of every step of both phases of cfg at steps an epoch (the
// head's, when fine-tuning spreads rates over the layer groups), numbered from 1, and a mark where each
// phase starts.
func scheduleSeries(cfg recipe.Config, steps int) (x, rates []float64, marks []viz.Mark) {
	finetuneLR := cfg.FinetuneRate()
	for _, phase := range []struct {
		name   string
		lr     float64
		epochs int
	}{{"frozen", cfg.LR, cfg.FrozenEpochs}, {"fine-tuning", finetuneLR, cfg.FinetuneEpochs}} {
		s := cfg.Schedule.New(phase.lr, cfg.Warmup)
		total := int64(phase.epochs * steps)
		if total > 0 {
			marks = append(marks, viz.Mark{X: float64(len(x)) + 0.5, Label: phase.name})
		}
		for i := int64(0); i < total; i++ {
			x, rates = append(x, float64(len(x)+1)), append(rates, s.Rate(i, total))
		}
	}
	return x, rates, marks
}
