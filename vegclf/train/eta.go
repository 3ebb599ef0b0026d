package train

import (
	"fmt"
	"strings"
	"time"

	"github.com/vegclf/vegclf/vegclf/runfolder"
)

// pace measures the speed of an epoch's training steps on a clock, leaving its first step out: the first
// step of a process compiles the step's graph (and fills caches), which would make every estimate too long.
// It measures the more recent half of the steps taken: the next steps run at their speed, which can differ
// from the epoch's start (its first steps fault in fresh memory that later ones reuse).
type pace struct {
	now    func() time.Time
	ends   []time.Time // When each step ended, the first one's included.
	images []int       // The images trained by then, the first step's left out.
}

// step records a training step of images, ended now.
func (p *pace) step(images int) {
	total := 0
	if n := len(p.images); n > 0 {
		total = p.images[n-1] + images
	}
	p.ends, p.images = append(p.ends, p.now()), append(p.images, total)
}

// window returns the place of the step the measure starts after, and how many steps it spans (0: fewer
// than two steps taken).
func (p *pace) window() (from, steps int) {
	taken := len(p.ends) - 1 // Measured steps: the first is left out.
	if taken < 1 {
		return 0, 0
	}
	steps = max(1, taken/2)
	return len(p.ends) - 1 - steps, steps
}

// perStep returns the time a step takes, false before two steps were taken.
func (p *pace) perStep() (time.Duration, bool) {
	from, steps := p.window()
	if steps == 0 {
		return 0, false
	}
	return p.now().Sub(p.ends[from]) / time.Duration(steps), true
}

// imagesPerSecond returns the images trained per second (0 before two steps were taken).
func (p *pace) imagesPerSecond() float64 {
	from, steps := p.window()
	if steps == 0 {
		return 0
	}
	if s := p.now().Sub(p.ends[from]).Seconds(); s > 0 {
		return float64(p.images[len(p.images)-1]-p.images[from]) / s
	}
	return 0
}

// finetuneOverForward is how many times longer a fine-tuning step takes than the forward pass of its
// images (the backward pass is about twice the forward one): the estimate of fine-tuning's speed before
// the run has trained a fine-tuning step.
const finetuneOverForward = 3

// speeds are the seconds per image a run has measured: its training steps in each phase, and the
// backbone's forward pass (the test split's evaluation, the feature pass, a frozen step on images).
type speeds struct {
	train   map[runfolder.Phase]float64
	forward float64
}

// setTrain keeps the seconds per image measured training phase.
func (s *speeds) setTrain(phase runfolder.Phase, perImage float64) {
	if s.train == nil {
		s.train = map[runfolder.Phase]float64{}
	}
	s.train[phase] = perImage
}

// trainPerImage returns the seconds per image of phase's training, estimated from the forward pass
// for fine-tuning not yet measured; false when nothing says.
func (s *speeds) trainPerImage(phase runfolder.Phase) (float64, bool) {
	if v, ok := s.train[phase]; ok {
		return v, true
	}
	if phase == runfolder.Finetune && s.forward > 0 {
		return finetuneOverForward * s.forward, true
	}
	return 0, false
}

// runLeft estimates the time left in the run during epoch epoch of phase, whose training has epochLeft
// left: that, its test pass (none on cached features), the phase's epochs after it, and fine-tuning after
// the frozen phase. It is false while a speed it needs is not known.
func (r *Run) runLeft(phase runfolder.Phase, epoch int, epochLeft time.Duration, cached bool) (time.Duration, bool) {
	if r.speeds.forward == 0 {
		return 0, false
	}
	tests := 1
	if r.ema != nil {
		tests = 2 // The weight average is tested too.
	}
	trainImages := float64(len(r.Dataset.Train.Samples))
	testTime := float64(tests*len(r.Dataset.Test.Samples)) * r.speeds.forward
	thisTest := testTime
	if cached {
		thisTest = 0
	}
	left := epochLeft.Seconds() + thisTest
	later := []struct {
		phase  runfolder.Phase
		epochs int
		test   float64
	}{{phase, r.epochsOf(phase) - epoch, thisTest}}
	if phase == runfolder.Frozen {
		later = append(later, struct {
			phase  runfolder.Phase
			epochs int
			test   float64
		}{runfolder.Finetune, r.Config.FinetuneEpochs, testTime})
	}
	for _, l := range later {
		if l.epochs <= 0 {
			continue
		}
		perImage, ok := r.speeds.trainPerImage(l.phase)
		if !ok {
			return 0, false
		}
		left += float64(l.epochs) * (trainImages*perImage + l.test)
	}
	return time.Duration(left * float64(time.Second)), true
}

// epochsOf returns the epochs of phase the run trains.
func (r *Run) epochsOf(phase runfolder.Phase) int {
	if phase == runfolder.Finetune {
		return r.Config.FinetuneEpochs
	}
	return r.Config.FrozenEpochs
}

// Timing writes the progress's speed and estimates for a progress line: "12.5 img/s, epoch 4m10s left,
// run 1h2m left"; "" when there is none yet.
func (p Progress) Timing() string {
	var parts []string
	if p.ImagesPerSecond > 0 {
		parts = append(parts, fmt.Sprintf("%.3g img/s", p.ImagesPerSecond))
	}
	if p.EpochLeft > 0 {
		parts = append(parts, "epoch "+roughDuration(p.EpochLeft)+" left")
	}
	if p.RunLeft > 0 {
		parts = append(parts, "run "+roughDuration(p.RunLeft)+" left")
	}
	return strings.Join(parts, ", ")
}

// roughDuration writes d to the second under 10 minutes, to the minute under 10 hours, to the hour past.
func roughDuration(d time.Duration) string {
	switch {
	case d < 10*time.Minute:
		return d.Round(time.Second).String()
	case d < 10*time.Hour:
		return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
	}
	return strings.TrimSuffix(strings.TrimSuffix(d.Round(time.Hour).String(), "0s"), "0m")
}
