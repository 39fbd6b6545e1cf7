package check

import (
	"fmt"
	"testing"
)

// labels5000 is a merge request with 5,000 labels: noise, a few near
// misses, and the Echoes labels last, so every label is looked at.
func labels5000() []string {
	out := make([]string, 0, 5000)
	for i := 0; len(out) < 4990; i++ {
		switch i % 100 {
		case 0:
			out = append(out, fmt.Sprintf("echoes/intnet/typo-%d", i))
		case 1:
			out = append(out, fmt.Sprintf("workflow::stage-%d", i))
		default:
			out = append(out, fmt.Sprintf("team/backend/component-%d", i))
		}
	}
	for len(out) < 4998 {
		out = append(out, "priority::"+fmt.Sprint(len(out)))
	}
	return append(out, "echoes/intent/feature", "echoes/effort/M")
}

func BenchmarkEvaluate5000(b *testing.B) {
	labels := labels5000()
	b.ReportAllocs()
	for b.Loop() {
		if v := Evaluate(labels, Options{RequireEffort: true}); !v.Pass() {
			b.Fatal("want a pass")
		}
	}
}

func BenchmarkEvaluate5000Failing(b *testing.B) {
	labels := labels5000()[:4998]
	b.ReportAllocs()
	for b.Loop() {
		if v := Evaluate(labels, Options{RequireEffort: true}); v.Pass() {
			b.Fatal("want a fail")
		}
	}
}

func BenchmarkClassify(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if Classify("Echoes/Initiative::checkout-v2", Prefixes{}).Kind != Initiative {
			b.Fatal("want an initiative")
		}
	}
}
