package rerun_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/reruntest"
	"gitlab.com/echoeshq/echoes-labels/rerun"
)

// serve's start-up check, tried again in the background, waits
// gitlabapi.Backoff from 1 s (doubling, up to 30 s) before each try, on
// the engine's clock, and numbers the tries from 2.
func TestRetryUntilBacksOff(t *testing.T) {
	gl := reruntest.StandIn(t)
	clk := &reruntest.Clock{}
	cfg := reruntest.Config(gl)
	cfg.Clock = clk
	e, err := rerun.New(cfg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	tries := 0
	var attempts []int
	e.RetryUntil(context.Background(), func(context.Context) error {
		if tries++; tries < 7 {
			return errors.New("down")
		}
		return nil
	}, func(_ error, attempt int) { attempts = append(attempts, attempt) })
	s := time.Second
	if got, want := clk.Sleeps(), []time.Duration{s, 2 * s, 4 * s, 8 * s, 16 * s, 30 * s, 30 * s}; !slices.Equal(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	if want := []int{2, 3, 4, 5, 6, 7}; !slices.Equal(attempts, want) {
		t.Errorf("failures reported as attempts %v, want %v", attempts, want)
	}
}
