package train

// This file holds what the trainer writes into its run folder (through package runfolder) as epochs end.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/vegclf/vegclf/vegclf/checkpoint"
	"github.com/vegclf/vegclf/vegclf/evaluate"
	"github.com/vegclf/vegclf/vegclf/internal/atomicfile"
	"github.com/vegclf/vegclf/vegclf/memlimit"
	"github.com/vegclf/vegclf/vegclf/runfolder"
)

// trimMetrics drops metrics lines of epochs after the restored checkpoint (written before a kill), and
// returns the epochs kept.
func (r *Run) trimMetrics() ([]runfolder.EpochMetrics, error) {
	path := filepath.Join(r.Dir, runfolder.MetricsFile)
	content, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading metrics: %w", err)
	}
	var kept []byte
	var epochs []runfolder.EpochMetrics
	for _, line := range strings.SplitAfter(string(content), "\n") {
		var e runfolder.EpochMetrics
		if strings.TrimSpace(line) == "" || json.Unmarshal([]byte(line), &e) != nil || !strings.HasSuffix(line, "\n") {
			continue // A line cut short by a kill.
		}
		if e.Phase == runfolder.Frozen && (r.phase == runfolder.Finetune || e.Epoch <= r.epoch) || e.Phase == runfolder.Finetune && r.phase == runfolder.Finetune && e.Epoch <= r.epoch {
			kept = append(kept, line...)
			epochs = append(epochs, e)
		}
	}
	if err := atomicfile.Write(path, kept); err != nil {
		return nil, err
	}
	return epochs, runfolder.WriteMetricsCSV(r.Dir, epochs)
}

// saveEpoch appends the metrics line, then writes the best checkpoint (if the epoch improved: lean unless
// Config.BestOptimizerState) and the last one. A kill at any point leaves whole files: each checkpoint is renamed into place, and a resume
// from the last checkpoint drops metrics lines past it (that epoch is trained again).
func (r *Run) saveEpoch(m runfolder.EpochMetrics) error {
	if err := runfolder.AppendMetrics(r.Dir, m); err != nil {
		return err
	}
	if m.Best {
		r.best = m.Score()
		r.haveBest = true
	}
	r.lastAccuracy, r.lastLoss = m.TestAccuracy, m.TestLoss
	if m.TestMAP != nil {
		r.lastMAP = *m.TestMAP
	}
	meta := r.meta(m.Phase, m.TrainImageSize)
	if m.Best {
		r.loadedBest = nil // best.ckpt is written again below.
	}
	if m.BestIsAverage {
		// best.ckpt holds the average, as the weights; last.ckpt the weights, and the average to resume.
		best := meta
		best.Averaged = true
		best.TestAccuracy, best.TestLoss = m.BestAccuracy()
		if m.EMATestMAP != nil {
			best.TestMAP, best.Thresholds = *m.EMATestMAP, r.emaThresholds
		}
		if err := r.ema.Swap(); err != nil {
			return err
		}
		err := runfolder.SaveBest(r.Dir, r.Store, best, r.Config.BestOptimizerState)
		if swapErr := r.ema.Swap(); err == nil {
			err = swapErr
		}
		if err != nil {
			return err
		}
	} else if m.Best {
		if err := runfolder.SaveBest(r.Dir, r.Store, meta, r.Config.BestOptimizerState); err != nil {
			return err
		}
	}
	return runfolder.SaveCheckpoints(r.Dir, r.Store, meta, runfolder.LastOnly)
}

// meta returns the checkpoint meta of where the run stands, in phase, with the last completed epoch's
// test accuracy and loss.
func (r *Run) meta(phase runfolder.Phase, trainSize int) checkpoint.Meta {
	return checkpoint.Meta{
		Arch: r.Model.Name(), Head: r.Model.Head, Classes: r.Dataset.Classes, ImageSize: r.Config.ImageSize,
		Normalization: r.Config.Transform().Normalization, Phase: string(phase), Epoch: r.epoch, Step: r.step,
		TestAccuracy: r.lastAccuracy, TestLoss: r.lastLoss, BestAccuracy: r.best, TrainImageSize: trainSize,
		InChannels: r.Config.Transform().Channels, MultiLabel: r.Config.MultiLabel, Thresholds: r.thresholds, TestMAP: r.lastMAP,
	}
}

// savePosition writes last.ckpt inside an epoch of phase, at pos: the weights, Adam's state and the weight
// average as they are, the position and the epoch's sums so far in its meta. best.ckpt and the metrics
// are an epoch's end's.
func (r *Run) savePosition(phase runfolder.Phase, pos checkpoint.Position) error {
	trainSize := 0
	if phase == runfolder.Finetune && r.Config.FinetuneImageSizes != "" {
		trainSize = r.trainSize
	}
	meta := r.meta(phase, trainSize)
	meta.Position = &pos
	return runfolder.SaveCheckpoints(r.Dir, r.Store, meta, runfolder.LastOnly)
}

// Finish does what a run does after training: it evaluates the best checkpoint on the validation split
// (EvaluateBest) and writes the run's summary with that result (WriteSummary).
func (r *Run) Finish() (*runfolder.Summary, error) {
	validation, err := r.EvaluateBest()
	if err != nil {
		return nil, err
	}
	return r.WriteSummary(validation)
}

// WriteSummary writes summary.json and summary.txt from the metrics, the best checkpoint and the
// validation result (nil when there is none).
func (r *Run) WriteSummary(validation *evaluate.Result) (*runfolder.Summary, error) {
	epochs, err := runfolder.ReadMetrics(r.Dir)
	if err != nil {
		return nil, err
	}
	best, err := r.loadBest()
	if err != nil {
		return nil, err
	}
	meta := best.meta
	s := &runfolder.Summary{
		Model: r.Model.String(), Classes: r.Dataset.Classes, TrainImages: len(r.Dataset.Train.Samples),
		TestImages: len(r.Dataset.Test.Samples), TestCarved: r.Dataset.TestCarved, BestPhase: meta.Phase,
		BestEpoch: meta.Epoch, BestTestAccuracy: meta.TestAccuracy, Epochs: epochs,
		PeakRSSMB: float64(memlimit.PeakRSS()) / (1 << 20),
	}
	for _, e := range epochs {
		s.TrainSeconds += e.Seconds
		if s.PhaseSeconds == nil {
			s.PhaseSeconds = map[runfolder.Phase]float64{}
		}
		s.PhaseSeconds[e.Phase] += e.Seconds
	}
	if _, ok := s.PhaseSeconds[runfolder.Frozen]; ok && r.featureSeconds > 0 {
		s.PhaseSeconds[runfolder.Frozen] += r.featureSeconds
	}
	for _, u := range r.Dataset.Skipped {
		s.SkippedFiles = append(s.SkippedFiles, u.Path)
	}
	for p := range r.skipped {
		s.SkippedFiles = append(s.SkippedFiles, p)
	}
	if meta.MultiLabel {
		s.BestTestMAP = &meta.TestMAP
	}
	if validation != nil {
		s.ValidationImages = validation.Total
		s.ValidationAccuracy, s.ValidationLoss = &validation.Accuracy, &validation.Loss
		if validation.MultiLabel != nil {
			s.ValidationMAP = &validation.MultiLabel.MAP
		}
	}
	if err := runfolder.WriteSummary(r.Dir, s); err != nil {
		return nil, err
	}
	return s, nil
}
