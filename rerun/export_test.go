package rerun

import "context"

// What the external tests (package rerun_test) reach inside.

// Cursor is a sweep's cursor.
type Cursor = sweepCursor

// Sweep is e.sweep of one entry from cur, with a round of its own; it
// returns the merge requests listed.
func (e *Engine) Sweep(ctx context.Context, w WatchEntry, cur *Cursor) (listed int, err error) {
	st, err := e.sweep(ctx, w, cur, map[Key]bool{})
	return st.listed, err
}

// Positioned is true once the cursor moved past the first page.
func (c *Cursor) Positioned() bool { return c.after != nil }
