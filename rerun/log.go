package rerun

import (
	"context"
	"log/slog"
	"time"

	"gitlab.com/echoeshq/echoes-labels/printable"
)

// maxLogged bounds an untrusted string in the log, in runes.
const maxLogged = 128

// Clip makes an untrusted string fit for the log: control characters
// (C0 and C1, bidi overrides) escaped, invalid UTF-8 replaced, bounded.
// Secrets are masked by the log's writer.
func Clip(s string) string { return printable.Truncate(s, maxLogged) }

// Ms is a duration in milliseconds, as the log's *_ms fields give it.
func Ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func ms(d time.Duration) float64 { return Ms(d) }

// logResult writes the one line per delivery of a task that was worked
// on (or abandoned).
func (e *Engine) logResult(t *Task, r Result) {
	level := slog.LevelInfo
	if r.GaveUp() {
		level = slog.LevelWarn
	}
	for _, d := range t.Deliveries {
		e.log.Log(context.Background(), level, "delivery", "delivery", d.ID, "webhook_uuid", d.UUID, "project", t.Path, "project_id", t.Key.Project,
			"mr", t.Key.IID, "verdict", r.Verdict, "action", r.Action(), "detail", r.Detail,
			"batch", len(t.Deliveries)+t.dropped, "duration_ms", ms(e.clock.Now().Sub(d.Received)), "work_ms", ms(r.Took))
	}
	if t.dropped > 0 {
		e.log.Log(context.Background(), level, "deliveries merged without a line of their own", "project", t.Path, "project_id", t.Key.Project, "mr", t.Key.IID, "count", t.dropped)
	}
}
