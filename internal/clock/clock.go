// Package clock is time as both commands see it: the wall clock in a run,
// a fake one in tests, and the one "sleep unless cancelled" both need.
package clock

import (
	"context"
	"time"
)

// Clock is time as a command sees it.
type Clock interface {
	Now() time.Time
	// Sleep returns early, with ctx's error, when ctx ends.
	Sleep(ctx context.Context, d time.Duration) error
}

// Real is the wall clock.
type Real struct{}

// Now is time.Now.
func (Real) Now() time.Time { return time.Now() }

// Sleep is the package's Sleep.
func (Real) Sleep(ctx context.Context, d time.Duration) error { return Sleep(ctx, d) }

// Sleep waits d, or until ctx ends, and then returns ctx's error.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
