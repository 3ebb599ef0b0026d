package kaggle

import (
	"fmt"
	"io"
	"os"
	"time"
)

// reporter writes what Get does to Options.Progress.
type reporter struct {
	out io.Writer
	tty bool // A terminal: progress is a line rewritten in place.
}

func newReporter(w io.Writer) *reporter {
	if w == nil {
		return &reporter{out: io.Discard}
	}
	tty := false
	if f, ok := w.(*os.File); ok {
		if info, err := f.Stat(); err == nil && info.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &reporter{out: w, tty: tty}
}

func (r *reporter) printf(format string, args ...any) { fmt.Fprintf(r.out, format, args...) }

// meter counts the bytes written to it and shows them: on a terminal, a line rewritten at most 5 times
// a second; else a line at each tenth of total (each 100 MB when total is unknown).
type meter struct {
	r           *reporter
	offset      int64 // Bytes there before (a resumed download).
	done, total int64
	began, last time.Time
	step        int64 // The last tenth (or 100 MB) shown.
	shown       bool
}

func (r *reporter) meter(offset, total int64) *meter {
	m := &meter{r: r, offset: offset, done: offset, total: total, began: time.Now()}
	m.step = m.stepOf(offset)
	return m
}

func (m *meter) Write(p []byte) (int, error) {
	m.done += int64(len(p))
	if m.r.out == io.Discard {
		return len(p), nil
	}
	if m.r.tty {
		if now := time.Now(); now.Sub(m.last) >= 200*time.Millisecond {
			m.last = now
			fmt.Fprintf(m.r.out, "\r  %s\x1b[K", m.line())
			m.shown = true
		}
		return len(p), nil
	}
	if step := m.stepOf(m.done); step > m.step {
		m.step = step
		fmt.Fprintf(m.r.out, "  %s\n", m.line())
	}
	return len(p), nil
}

// stepOf returns the tenth of total (or the 100 MB) that done is in.
func (m *meter) stepOf(done int64) int64 {
	if m.total > 0 {
		return done * 10 / m.total
	}
	return done / 100e6
}

// finish ends a terminal's progress line.
func (m *meter) finish() {
	if m.r.tty && m.shown {
		fmt.Fprintf(m.r.out, "\r  %s\x1b[K\n", m.line())
	}
}

func (m *meter) line() string {
	rate := ""
	if secs := time.Since(m.began).Seconds(); secs > 0.5 {
		rate = fmt.Sprintf(", %s/s", formatBytes(int64(float64(m.done-m.offset)/secs)))
	}
	if m.total > 0 {
		return fmt.Sprintf("%s of %s (%d%%)%s", formatBytes(m.done), formatBytes(m.total), m.done*100/m.total, rate)
	}
	return formatBytes(m.done) + rate
}

// formatBytes writes a size in decimal units: 532 B, 12.3 kB, 2.3 GB.
func formatBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1e6:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1e9:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}

// formatDuration rounds a duration for people: 12ms, 3.4s, 1m5s.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// sizeOrUnknown formats a size that may not be known (0).
func sizeOrUnknown(n int64) string {
	if n <= 0 {
		return "size unknown"
	}
	return formatBytes(n)
}
