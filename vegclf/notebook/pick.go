package notebook

import (
	"encoding/base64"
	"fmt"
	"html"
	"path/filepath"
	"time"

	"github.com/gomlx/compute"
	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/dom"
	"github.com/janpfeifer/gonb/gonbui/widgets"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/interpret"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/viz"
)

// frontEndWait is how long PickImage waits for the page to answer its widgets before it takes the
// notebook for one run without a page (nbconvert, nbclient) and shows the first image only.
const frontEndWait = 15 * time.Second

// Explainer predicts an image's classes (Classifier.Classes: the top k, or a multi-label classifier's every
// class above its threshold) and the Grad-CAM map of the first, with the classifier and the Grad-CAM graph
// compiled once.
type Explainer struct {
	c *predict.Classifier
	g *interpret.GradCAM
}

// NewExplainer prepares an Explainer of c on backend b.
func NewExplainer(b compute.Backend, c *predict.Classifier) (*Explainer, error) {
	g, err := interpret.NewGradCAM(b, c.Model, c.Store)
	if err != nil {
		return nil, err
	}
	return &Explainer{c: c, g: g}, nil
}

// Explanation is one image's classes and the Grad-CAM map of the first.
type Explanation struct {
	predict.Prediction
	// Mapped is the class the map explains: the first listed, or when a multi-label classifier lists none,
	// the most probable.
	Mapped predict.Class
	// Map is the Grad-CAM map of Mapped, values in [0, 1].
	Map [][]float32
}

// Explain predicts the image at path's classes (its top k, or a multi-label classifier's every class above
// its threshold, as predict, eval and serve list them) and computes the Grad-CAM map of the first.
func (e *Explainer) Explain(path string, k int) (*Explanation, error) {
	batch, err := (&data.Loader{Samples: []data.Sample{{Path: path}}, Transform: e.c.Transform, BatchSize: 1}).Batch([]int{0})
	if err != nil {
		return nil, err
	}
	probs, err := e.c.Probabilities(batch.Images)
	if err != nil {
		return nil, err
	}
	x := &Explanation{Prediction: predict.Prediction{Image: path, Top: e.c.Classes(probs[0], k)}}
	if len(x.Top) > 0 {
		x.Mapped = x.Top[0]
	} else {
		x.Mapped = predict.TopK(probs[0], e.c.Labels, 1)[0]
	}
	maps, err := e.g.Maps(batch.Images, []int32{int32(x.Mapped.Index)})
	if err != nil {
		return nil, err
	}
	x.Map = maps[0]
	return x, nil
}

// bars returns classes' labels and probabilities, for viz.Prediction.
func bars(classes []predict.Class) ([]string, []float64) {
	var labels []string
	var probs []float64
	for _, cl := range classes {
		labels, probs = append(labels, cl.Label), append(probs, cl.Prob)
	}
	return labels, probs
}

// HTML shows the explanation: the image with its classes as bars, its Grad-CAM map, and the classes as
// text (Prediction.Text, in a <p class="vegclf-pick-top">).
func (x *Explanation) HTML() string {
	labels, probs := bars(x.Top)
	img := func(png []byte) string {
		return `<img src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(png) + `">`
	}
	caption := fmt.Sprintf("Grad-CAM of %s", x.Mapped.Label)
	if len(x.Top) == 0 {
		caption = fmt.Sprintf("Grad-CAM of %s (the most probable, %.1f%%)", x.Mapped.Label, 100*x.Mapped.Prob)
	}
	return `<div class="vegclf-pick">` +
		img(viz.PNG(viz.Prediction(x.Image, labels, probs, 160))) + " " +
		img(viz.PNG(viz.Saliency(x.Image, x.Map, 160, caption))) +
		`<p class="vegclf-pick-top">` + html.EscapeString(x.Text()) + `</p></div>`
}

// pickLabel is the name a choice shows for an image: its folder (the class) and file name.
func pickLabel(path string) string {
	return filepath.Join(filepath.Base(filepath.Dir(path)), filepath.Base(path))
}

// PickImage shows a choice of the images at paths and, under it, the chosen one with its top k classes (a
// multi-label classifier's: every class above its threshold, or that none is) and its Grad-CAM map, again each time the choice changes, until the cell's Done button is clicked (or the
// kernel is interrupted). In a notebook run without a page to answer the widgets (nbconvert), it says so
// and shows the first image.
func PickImage(e *Explainer, paths []string, k int) error {
	if len(paths) == 0 {
		return fmt.Errorf("pick an image: no images to choose from")
	}
	explain := func(i int) (string, string, error) {
		x, err := e.Explain(paths[i], k)
		if err != nil {
			return "", "", fmt.Errorf("explaining %s: %w", paths[i], err)
		}
		return x.HTML(), x.Text(), nil
	}
	options := make([]string, len(paths))
	for i, p := range paths {
		options[i] = html.EscapeString(pickLabel(p))
	}
	uid := gonbui.UniqueId()
	sel := widgets.Select(options).WithHtmlId("vegclf-pick-select-" + uid)
	done := widgets.Button("Done").WithHtmlId("vegclf-pick-done-" + uid)
	ready := make(chan struct{})
	wait := time.After(frontEndWait)
	if gonbui.IsNotebook {
		go func() {
			// Each waits for the page to answer; without a page neither returns.
			sel.Done()
			done.Done()
			close(ready)
		}()
	} else {
		wait = time.After(0)
	}
	select {
	case <-ready:
	case <-wait:
		page, text, err := explain(0)
		if err != nil {
			return err
		}
		fmt.Printf("No page answered the image choice (a notebook run without a browser): the first image only.\n%s\n", text)
		showHTML(page)
		return nil
	}
	changes := sel.Listen().LatestOnly()
	defer changes.Close()
	clicks := done.Listen()
	defer clicks.Close()
	view := "vegclf-pick-view-" + uid
	shown, last := -1, ""
	show := func(i int) {
		if i < 0 || i >= len(paths) || i == shown {
			return
		}
		page, text, err := explain(i)
		if err != nil {
			// The next choice may be readable: the cell goes on.
			page, text = "<p>"+html.EscapeString(err.Error())+"</p>", err.Error()
		}
		gonbui.UpdateHTML(view, page)
		gonbui.Sync()
		shown, last = i, text
	}
	show(sel.Value())
	for {
		select {
		case i := <-changes.C:
			show(i)
		case <-clicks.C:
			dom.TransientJavascript(fmt.Sprintf(`document.getElementById(%q).disabled = true; document.getElementById(%q).disabled = true;`,
				sel.HtmlId(), done.HtmlId()))
			fmt.Println("Done:", last)
			return nil
		}
	}
}

// PickImage lets the user choose among the held-out images (up to 500, spread over the split) and shows
// the chosen one with the best checkpoint's top-3 classes (a multi-label run's: every class above its
// threshold) and its Grad-CAM map, until Done is clicked.
func (s *Session) PickImage() error {
	c, err := s.Classifier()
	if err != nil {
		return err
	}
	e, err := NewExplainer(s.Backend, c)
	if err != nil {
		return err
	}
	return PickImage(e, s.heldOutImages(500), 3)
}
