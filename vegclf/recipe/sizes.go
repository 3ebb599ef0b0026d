package recipe

import (
	"fmt"
	"strconv"
	"strings"
)

// SizeSchedule is progressive resizing's fine-tuning image sizes (fastai's trick): "160:1,224:1", each
// SIZE:EPOCHS entry training that many epochs at that size, in order; the zero value ("") trains every
// fine-tuning epoch at ImageSize. It is text (written and parsed as such) so that Config stays
// comparable; UnmarshalText checks and normalizes it, Entries reads it.
type SizeSchedule string

// SizeEpochs is one entry of a SizeSchedule: Epochs fine-tuning epochs at Size x Size.
type SizeEpochs struct{ Size, Epochs int }

// ParseSizeSchedule reads "SIZE:EPOCHS[,SIZE:EPOCHS...]" with positive sizes and epochs ("" for none).
func ParseSizeSchedule(text string) ([]SizeEpochs, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var entries []SizeEpochs
	for part := range strings.SplitSeq(text, ",") {
		size, epochs, ok := strings.Cut(strings.TrimSpace(part), ":")
		s, errS := strconv.Atoi(strings.TrimSpace(size))
		e, errE := strconv.Atoi(strings.TrimSpace(epochs))
		if !ok || errS != nil || errE != nil || s <= 0 || e <= 0 {
			return nil, fmt.Errorf("image sizes %q: want SIZE:EPOCHS[,SIZE:EPOCHS...] with positive sizes and epochs, such as 160:1,224:1", text)
		}
		entries = append(entries, SizeEpochs{Size: s, Epochs: e})
	}
	return entries, nil
}

// Entries returns the schedule's entries (nil for none); a schedule that does not parse (set other than
// through UnmarshalText) has none, and Validate refuses it.
func (s SizeSchedule) Entries() []SizeEpochs {
	entries, _ := ParseSizeSchedule(string(s))
	return entries
}

// Epochs returns the schedule's epochs in all.
func (s SizeSchedule) Epochs() int {
	n := 0
	for _, e := range s.Entries() {
		n += e.Epochs
	}
	return n
}

// String writes the schedule as "SIZE:EPOCHS,...".
func (s SizeSchedule) String() string {
	parts := []string{}
	for _, e := range s.Entries() {
		parts = append(parts, fmt.Sprintf("%d:%d", e.Size, e.Epochs))
	}
	if len(parts) == 0 {
		return string(s)
	}
	return strings.Join(parts, ",")
}

// MarshalText writes the schedule (String).
func (s SizeSchedule) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a schedule (ParseSizeSchedule), normalized.
func (s *SizeSchedule) UnmarshalText(text []byte) error {
	if _, err := ParseSizeSchedule(string(text)); err != nil {
		return err
	}
	*s = SizeSchedule(text)
	*s = SizeSchedule(s.String())
	return nil
}

// FinetuneSize returns the image size fine-tuning epoch epoch (1-based) trains at: its entry's in
// FinetuneImageSizes, ImageSize without one (or past the schedule's end).
func (c Config) FinetuneSize(epoch int) int {
	for _, e := range c.FinetuneImageSizes.Entries() {
		if epoch <= e.Epochs {
			return e.Size
		}
		epoch -= e.Epochs
	}
	return c.ImageSize
}
