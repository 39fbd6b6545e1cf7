package app

import (
	"testing"

	"gitlab.com/echoeshq/echoes-labels/checkcmd"
)

func TestListensOnlyWhenTheCommandCanBlock(t *testing.T) {
	labels := "echoes/intent/x"
	for _, tt := range []struct {
		command string
		check   checkcmd.Command
		want    bool
	}{
		{"check", checkcmd.Command{Labels: &labels}, false},
		{"check", checkcmd.Command{}, true},
		{"serve", checkcmd.Command{}, true},
		{"reconcile", checkcmd.Command{}, true},
	} {
		if got := listens(tt.command, &tt.check); got != tt.want {
			t.Errorf("listens(%q, labels %v) = %v, want %v", tt.command, tt.check.Labels != nil, got, tt.want)
		}
	}
}
