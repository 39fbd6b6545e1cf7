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
		{"check", checkcmd.Command{Labels: []string{labels}}, false},
		{"check", checkcmd.Command{}, true},
		{"serve", checkcmd.Command{}, true},
		{"reconcile", checkcmd.Command{}, true},
	} {
		if got := listens(tt.command, &tt.check); got != tt.want {
			t.Errorf("listens(%q, labels %v) = %v, want %v", tt.command, tt.check.Labels != nil, got, tt.want)
		}
	}
}

func TestMemoryLimitPerCommand(t *testing.T) {
	for command, want := range map[string]int64{"check": 40 << 20, "serve": 100 << 20, "reconcile": 100 << 20} {
		if got := memoryLimit(command); got != want {
			t.Errorf("memoryLimit(%q) = %d MiB, want %d", command, got>>20, want>>20)
		}
	}
}
