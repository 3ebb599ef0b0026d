package notebook

import (
	"context"
	"fmt"
	"os"

	"github.com/gomlx/compute"
	"github.com/vegclf/vegclf/vegclf/augment"
	"github.com/vegclf/vegclf/vegclf/backend"
	"github.com/vegclf/vegclf/vegclf/data"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/predict"
	"github.com/vegclf/vegclf/vegclf/recipe"
	"github.com/vegclf/vegclf/vegclf/runfolder"
	"github.com/vegclf/vegclf/vegclf/train"
)

// Session is what the tutorial's cells share: the compute backend, the run's configuration and dataset,
// and its folder. GoNB runs every cell as a program of its own, so each cell opens it again (cheaply: the
// dataset is a list of files) and calls one of its methods, which read like the tutorial's steps.
type Session struct {
	Backend compute.Backend
	Choice  backend.Choice
	Config  recipe.Config
	Dataset *data.Dataset
	RunDir  string
	// WeightsNote says which pretrained weights the configuration uses, or why none.
	WeightsNote string
}

// Backend configures the notebook's process for the backend $GOMLX_BACKEND names, else the one chosen
// automatically (backend.ConfigureProcess: a notebook is where its process is configured), and creates
// it. What the configuration did is added to the choice's reason.
func Backend() (compute.Backend, backend.Choice, error) {
	did, err := backend.ConfigureProcess("")
	if err != nil {
		return nil, backend.Choice{}, err
	}
	b, choice, err := backend.New("")
	if err == nil && did != "" {
		choice.Reason += "; " + did
	}
	return b, choice, err
}

// Open chooses the backend ($GOMLX_BACKEND, else automatically) and lists cfg's dataset, for a run in
// runDir. weightsNote is what Pretrained said of the weights asked for.
func Open(cfg recipe.Config, runDir, weightsNote string) (*Session, error) {
	ds, err := data.LoadDataset(cfg.Data, cfg.DatasetOptions())
	if err != nil {
		return nil, err
	}
	b, choice, err := Backend()
	if err != nil {
		return nil, err
	}
	return &Session{Backend: b, Choice: choice, Config: cfg, Dataset: ds, RunDir: runDir, WeightsNote: weightsNote}, nil
}

// Describe prints the backend, its devices and the weights the run uses.
func (s *Session) Describe() {
	fmt.Println("Backend:", s.Choice)
	fmt.Printf("Devices: %d (training splits each batch across those that divide it)\n", s.Backend.NumDevices())
	fmt.Println(s.WeightsNote)
}

// ShowData prints the classes and the images per class of each split, and shows n training images.
func (s *Session) ShowData(n int) {
	ds := s.Dataset
	fmt.Printf("%d classes: %v\n", len(ds.Classes), ds.Classes)
	fmt.Printf("train per class: %v\n", ds.Train.Counts(len(ds.Classes)))
	fmt.Printf("test per class: %v (carved from train: %v)\n", ds.Test.Counts(len(ds.Classes)), ds.TestCarved)
	if ds.Validation != nil {
		fmt.Printf("validation per class: %v\n", ds.Validation.Counts(len(ds.Classes)))
	}
	ShowSamples(ds.Train, ds.Classes, n, 6, 1)
}

// ShowAugmented shows n training images as fine-tuning with augmentation sees them, six draws each: the
// configuration's augmentation policy and random erasing where it has them, after the crops, flips,
// rotations and colour jitter of --augment (shown alone when the configuration has neither).
func (s *Session) ShowAugmented(n int) error {
	return ShowAugmentation(s.Dataset.Train, s.Dataset.Classes, s.augmentation(), n, 6)
}

// augmentation returns what ShowAugmented draws.
func (s *Session) augmentation() Augmentation {
	cfg := s.Config
	a := Augmentation{Policy: cfg.AugmentPolicy, Erasing: augment.Erasing{P: cfg.RandomErasing}, Size: cfg.ImageSize, Mean: cfg.Normalization.Mean}
	if cfg.Augment || !a.Policy.Enabled() && a.Erasing.P == 0 {
		a.Crops = augment.Default()
	}
	return a
}

// ShowMixed shows n pairs of training images mixed by mixup and by cutmix (timm's Beta parameters).
func (s *Session) ShowMixed(n int) error {
	return ShowMixed(s.Dataset.Train, s.Dataset.Classes, 0.8, 1.0, n)
}

// ShowModel prints the model the run trains and the weights it starts from.
func (s *Session) ShowModel() {
	fmt.Println(s.WeightsNote)
	fmt.Printf("Model: %s, images %dx%d, batch %d\n", s.Config.Arch, s.Config.ImageSize, s.Config.ImageSize, s.Config.Batch)
}

// FindLR runs the LR finder over steps batches of phase ("frozen" or "finetune"; "": the phase that trains
// the most, fine-tuning without pretrained weights, where a frozen random backbone gives the head little to
// learn from, else the frozen phase) and draws it.
func (s *Session) FindLR(phase string, steps int) (*train.LRFind, error) {
	if phase == "" {
		phase = string(runfolder.Frozen)
		if s.Config.Weights == "none" {
			phase = string(runfolder.Finetune)
		}
	}
	return ShowLRFind(s.Config, s.Backend, s.RunDir, runfolder.Phase(phase), steps)
}

// ShowSchedule draws the learning rate of every training step.
func (s *Session) ShowSchedule() error {
	return ShowSchedule(s.Config, len(s.Dataset.Train.Samples))
}

// Train trains the run, or continues it when its folder holds one, with a progress bar and live curves.
func (s *Session) Train() error {
	r, err := train.Open(s.Config, s.Backend, s.RunDir)
	if err != nil {
		return err
	}
	Live(r)
	return r.Train(context.Background())
}

// Validate evaluates the best checkpoint on the validation split (the tutorial's last figure), writes the
// run's summary and draws its training curves.
func (s *Session) Validate() error {
	r, err := train.Resume(s.Config, s.Backend, s.RunDir)
	if err != nil {
		return err
	}
	r.Report = os.Stdout
	if _, err := r.Finish(); err != nil {
		return err
	}
	return ShowCurves(s.RunDir)
}

// Classifier returns the run's best checkpoint as a classifier.
func (s *Session) Classifier() (*predict.Classifier, error) {
	c, _, err := runfolder.LoadClassifier(s.Backend, s.RunDir)
	return c, err
}

// ShowEvaluation evaluates the best checkpoint on the held-out split: the confusion matrix, per-class
// accuracy, and up to n misclassified images.
func (s *Session) ShowEvaluation(n int) error {
	c, err := s.Classifier()
	if err != nil {
		return err
	}
	res, err := evaluate.Split(c, s.Dataset.HeldOut(), s.Config.Batch, nil)
	if err != nil {
		return err
	}
	ShowEvaluation(res, n)
	return nil
}

// heldOutImages returns n images spread over the held-out split.
func (s *Session) heldOutImages(n int) []string {
	split := s.Dataset.HeldOut()
	var images []string
	for i := 0; i < len(split.Samples) && len(images) < n; i += max(len(split.Samples)/n, 1) {
		images = append(images, split.Samples[i].Path)
	}
	return images
}

// ShowPredictions shows n held-out images with the best checkpoint's top-3 classes.
func (s *Session) ShowPredictions(n int) error {
	c, err := s.Classifier()
	if err != nil {
		return err
	}
	return ShowPredictions(c, s.heldOutImages(n), 3)
}

// ShowGradCAM shows, for n held-out images, where the best checkpoint looked (Grad-CAM).
func (s *Session) ShowGradCAM(n int) error {
	c, err := s.Classifier()
	if err != nil {
		return err
	}
	return ShowGradCAM(s.Backend, c, s.heldOutImages(n))
}
