package report

import (
	"fmt"
	"io"
	"runtime"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/check"
)

// millionLabels is an answer with a million labels of about 20 characters,
// every one of the given shape.
func millionLabels(shape string) []string {
	out := make([]string, 1_000_000)
	for i := range out {
		out[i] = fmt.Sprintf(shape, i)
	}
	return out
}

// TestMillionLabelsMemory checks that every format's memory is bounded
// whatever the number of labels: what a format allocates, measured as
// TotalAlloc (an upper bound on what it adds to the heap at its peak),
// stays under 1 MiB with a million labels of about 20 characters. Memory,
// not time: timings belong to benchmarks.
//
// The heap the labels and the verdict hold is logged, not asserted: the
// labels alone are about 38 MiB; check.Evaluate keeps at most
// check.MaxKept records of each kind (check's own test bounds it), and the
// whole process is measured by bench/memory.sh.
func TestMillionLabelsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a million labels")
	}
	const MiB = 1 << 20
	formats := []struct {
		name  string
		write func(Result) error
	}{
		{"text", func(r Result) error { return Text(io.Discard, r, Options{Sections: true}) }},
		{"json", func(r Result) error { return JSON(io.Discard, r) }},
		{"junit", func(r Result) error { return JUnit(io.Discard, r) }},
		{"note", func(r Result) error { _ = Note(r, testMarker); return nil }},
	}
	for _, shape := range []struct{ name, format string }{
		{"others", "team/backend/c-%07d"},     // none of them Echoes labels
		{"near misses", "echoes/intnet/%07d"}, // every one misspelt
		{"efforts", "echoes/effort/XL%07d"},   // a million effort labels
		{"intents", "echoes/intent/f-%07d"},   // a million intents
	} {
		labels := millionLabels(shape.format)
		v := check.Evaluate(labels, check.Options{RequireEffort: true})
		r := Result{Labels: labels, Source: FromAPI, Verdict: v, MergeRequest: MergeRequest{Project: "g/p", IID: 7}}
		runtime.GC()
		var base runtime.MemStats
		runtime.ReadMemStats(&base)
		for _, f := range formats {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			if err := f.write(r); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			added := after.TotalAlloc - before.TotalAlloc
			t.Logf("%s, %s: heap with labels and verdict %.1f MiB, format allocates %.2f MiB",
				shape.name, f.name, float64(base.HeapAlloc)/MiB, float64(added)/MiB)
			if added > 1*MiB {
				t.Errorf("%s of a million %s allocates %.1f MiB: some list is not capped", f.name, shape.name, float64(added)/MiB)
			}
		}
		runtime.KeepAlive(r)
	}
}
