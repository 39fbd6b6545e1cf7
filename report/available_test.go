package report

import (
	"fmt"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/check"
)

func TestAvailableLine(t *testing.T) {
	labels := []string{"backend"}
	v := check.Evaluate(labels, check.Options{})
	many := make([]string, 25)
	for i := range many {
		many[i] = fmt.Sprintf("echoes/intent/x%02d", i)
	}
	for _, c := range []struct {
		a    *Available
		want string
	}{
		{nil, ""},
		{&Available{}, ""},
		{&Available{Effort: []string{"echoes/effort/M"}}, ""}, // not a kind the failed rule asks for
		{&Available{Intent: []string{"echoes/intent/a\nb"}, Initiative: []string{"echoes/initiative/c"}}, `available: echoes/intent/a\x0ab, echoes/initiative/c`},
		{&Available{Intent: many}, "available: echoes/intent/x00, echoes/intent/x01, echoes/intent/x02, echoes/intent/x03, echoes/intent/x04, echoes/intent/x05, echoes/intent/x06, echoes/intent/x07, echoes/intent/x08, echoes/intent/x09, echoes/intent/x10, echoes/intent/x11, echoes/intent/x12, echoes/intent/x13, echoes/intent/x14, echoes/intent/x15, echoes/intent/x16, echoes/intent/x17, echoes/intent/x18, echoes/intent/x19, … 5 more"},
		{&Available{Intent: many[:1], Truncated: true}, "available: echoes/intent/x00, … and others not read"},
	} {
		r := Result{Labels: labels, Source: FromAPI, Verdict: v, Available: c.a}
		if got := r.AvailableLine(r.Findings()[0]); got != c.want {
			t.Errorf("%+v:\n got %q\nwant %q", c.a, got, c.want)
		}
	}
}
