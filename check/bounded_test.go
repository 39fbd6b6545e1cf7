package check

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

func repeatf(n int, format string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(format, i)
	}
	return out
}

// A verdict keeps at most MaxKept records of each kind but decides, and
// counts, on every label.
func TestVerdictIsBoundedButCountsEverything(t *testing.T) {
	var labels []string
	labels = append(labels, repeatf(MaxKept+50, "echoes/effort/M%d")...)
	labels = append(labels, repeatf(MaxKept+7, "echoes/intent/f%d")...)
	labels = append(labels, repeatf(3, "echoes/initiative/i%d")...)
	// Misspelt efforts first: the misspelt intent after them is still named.
	labels = append(labels, repeatf(MaxKept+100, "echoes/efort/%d")...)
	labels = append(labels, "echoes/intnet/late")
	v := Evaluate(labels, Options{RequireEffort: true})

	want := Counts{Intents: MaxKept + 7, Initiatives: 3, Efforts: MaxKept + 50, NearMisses: MaxKept + 101}
	if v.Counts != want {
		t.Errorf("counts = %+v, want %+v", v.Counts, want)
	}
	if len(v.Intents) != MaxKept || len(v.Initiatives) != 3 || len(v.Efforts) != MaxKept {
		t.Errorf("kept %d intents, %d initiatives, %d efforts; want %d, 3, %d", len(v.Intents), len(v.Initiatives), len(v.Efforts), MaxKept, MaxKept)
	}
	if v.Intents[0].Name != "echoes/intent/f0" || v.Efforts[MaxKept-1].Name != fmt.Sprintf("echoes/effort/M%d", MaxKept-1) {
		t.Errorf("kept %q … %q: want the first ones, in order", v.Intents[0].Name, v.Efforts[MaxKept-1].Name)
	}
	if len(v.NearMisses) != MaxKept+1 || v.NearMisses[MaxKept].Label != "echoes/intnet/late" {
		t.Errorf("kept %d near misses, want %d with the misspelt intent last", len(v.NearMisses), MaxKept+1)
	}

	intent, effort := v.Rules[0], v.Rules[1]
	if intent.Outcome != Passed || len(intent.Labels) != MaxKept || intent.LabelsOmitted != 10 {
		t.Errorf("intent rule: %v with %d labels, %d omitted; want passed, %d and 10", intent.Outcome, len(intent.Labels), intent.LabelsOmitted, MaxKept)
	}
	if effort.Problem != SeveralEfforts || len(effort.Labels) != MaxKept || effort.LabelsOmitted != 50 {
		t.Errorf("effort rule: %q with %d labels, %d omitted; want %q, %d and 50", effort.Problem, len(effort.Labels), effort.LabelsOmitted, SeveralEfforts, MaxKept)
	}
	wantMsg := fmt.Sprintf("%d effort labels (echoes/effort/M0, echoes/effort/M1, echoes/effort/M2, and %d more): keep exactly one", MaxKept+50, MaxKept+47)
	if effort.Message != wantMsg {
		t.Errorf("message = %q, want %q", effort.Message, wantMsg)
	}
}

// Exactly one effort label, however many others there are, is checked for
// its size; the message names three efforts at most.
func TestEffortRuleOnCounts(t *testing.T) {
	labels := append(repeatf(5000, "echoes/intent/%d"), "echoes/effort/huge")
	v := Evaluate(labels, Options{RequireEffort: true})
	if r := v.Rules[1]; r.Problem != BadEffortSize || r.LabelsOmitted != 0 {
		t.Errorf("one bad effort among 5,000 intents: %+v, want %q", r, BadEffortSize)
	}
	v = Evaluate([]string{"echoes/intent/x", "echoes/effort/S", "echoes/effort/M", "echoes/effort/L"}, Options{})
	if msg := v.Rules[1].Message; strings.Contains(msg, "more") || !strings.Contains(msg, "echoes/effort/L") {
		t.Errorf("three efforts: message %q, want all three named and no 'more'", msg)
	}
}

// What Evaluate allocates does not grow with the number of labels: a
// million of each kind, or a million near misses, cost what a few hundred
// do. Memory, not time: the figures come from allocation counters.
func TestEvaluateMemoryIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a million labels")
	}
	const MiB = 1 << 20
	for _, format := range []string{"echoes/effort/XL%d", "echoes/intent/f-%d", "echoes/initiative/%d", "echoes/intnet/%d", "echoes/efort::%d", "team/%d"} {
		labels := repeatf(1_000_000, format)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		v := Evaluate(labels, Options{RequireEffort: true})
		runtime.ReadMemStats(&after)
		if added := after.TotalAlloc - before.TotalAlloc; added > MiB/4 {
			t.Errorf("a million %q: Evaluate allocated %.2f MiB, want under 0.25 MiB", format, float64(added)/MiB)
		}
		if n := v.Counts.Intents + v.Counts.Initiatives + v.Counts.Efforts + v.Counts.NearMisses; format != "team/%d" && n != 1_000_000 {
			t.Errorf("a million %q: counted %d", format, n)
		}
		runtime.KeepAlive(labels)
	}
}
