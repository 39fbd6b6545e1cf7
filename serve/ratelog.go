package serve

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Refused and unqueued deliveries are logged at most refusalLines a
// refusalWindow for each outcome; the rest are counted, and one line
// ("delivery lines not logged", with the count) closes the window. A
// stranger sending thousands of requests a second thus writes a few
// lines, not megabytes; the deliveries metric still counts every one.
const (
	refusalLines  = 10
	refusalWindow = time.Second
)

// refusalLog is that bound.
type refusalLog struct {
	log *slog.Logger
	now func() time.Time

	mu      sync.Mutex
	windows map[string]*logWindow // by outcome
}

// logWindow is one outcome's current window.
type logWindow struct {
	start      time.Time
	logged     int
	suppressed int
	flush      *time.Timer // writes the count once the window is over
}

func newRefusalLog(log *slog.Logger, now func() time.Time) *refusalLog {
	return &refusalLog{log: log, now: now, windows: map[string]*logWindow{}}
}

// allow says whether a line for outcome may be written now; when not,
// it is counted for the window's closing line.
func (l *refusalLog) allow(outcome string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	w := l.windows[outcome]
	if w == nil {
		w = &logWindow{start: now}
		l.windows[outcome] = w
	}
	if now.Sub(w.start) >= refusalWindow {
		l.flushLocked(outcome, w)
		w.start, w.logged = now, 0
	}
	if w.logged < refusalLines {
		w.logged++
		return true
	}
	w.suppressed++
	if w.flush == nil {
		w.flush = time.AfterFunc(refusalWindow-now.Sub(w.start), func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			w.flush = nil
			l.flushLocked(outcome, w)
		})
	}
	return false
}

// flushLocked writes the count of the lines w left out, if any.
func (l *refusalLog) flushLocked(outcome string, w *logWindow) {
	if w.flush != nil {
		w.flush.Stop()
		w.flush = nil
	}
	if w.suppressed == 0 {
		return
	}
	l.log.Log(context.Background(), slog.LevelWarn, "delivery lines not logged", "outcome", outcome, "suppressed", w.suppressed,
		"reason", fmt.Sprintf("more than %d lines of this outcome in %s; the deliveries metric counts every one", refusalLines, refusalWindow))
	w.suppressed = 0
}
