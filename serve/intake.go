package serve

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// byteBudget is a semaphore weighted in bytes: the bodies being read, all
// requests together, hold at most its size. Bytes are reserved before a
// body is read and released once the delivery is parsed.
type byteBudget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	changed chan struct{} // closed and replaced on each release
}

func newByteBudget(size int64) *byteBudget {
	return &byteBudget{size: size, changed: make(chan struct{})}
}

// tryAcquire reserves n bytes if they are free now.
func (b *byteBudget) tryAcquire(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if n > b.size-b.used {
		return false
	}
	b.used += n
	return true
}

// acquire reserves n bytes, waiting for them until ctx is done.
func (b *byteBudget) acquire(ctx context.Context, n int64) bool {
	if n > b.size {
		return false
	}
	for {
		b.mu.Lock()
		if n <= b.size-b.used {
			b.used += n
			b.mu.Unlock()
			return true
		}
		wait := b.changed
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return false
		case <-wait:
		}
	}
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
	close(b.changed)
	b.changed = make(chan struct{})
}

// inUse is the bytes reserved now (tests).
func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// errTooLarge is a body past its cap.
var errTooLarge = errors.New("the body is larger than the cap")

// readBody reads at most limit bytes of r's body into a buffer of the
// size reserved: the Content-Length when given, else limit. A body past
// limit is errTooLarge.
func readBody(r *http.Request, reserved, limit int64) ([]byte, error) {
	if r.ContentLength >= 0 {
		if r.ContentLength > limit {
			return nil, errTooLarge
		}
		buf := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	// No length given: grow by doubling, never past limit+1 bytes, so
	// that the buffer stays within what was reserved.
	buf := make([]byte, 0, min(limit+1, 64<<10))
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return nil, errTooLarge
			}
			grown := make([]byte, len(buf), min(2*int64(cap(buf)), limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case int64(len(buf)) > limit:
			return nil, errTooLarge
		case errors.Is(err, io.EOF):
			return buf, nil
		case err != nil:
			return nil, err
		}
	}
}

// reservation is what a body of r takes from a budget: its length when
// the sender gave it, else the cap (it may grow that far).
func reservation(r *http.Request, limit int64) int64 {
	if r.ContentLength >= 0 && r.ContentLength <= limit {
		return max(r.ContentLength, 1)
	}
	return limit
}

// unauthenticatedReadTimeout bounds reading a body whose sender is not
// known yet (a signature to check): a real status check request of a
// MiB comes in well under it, and a slow sender cannot hold its share of
// the pool for long.
const unauthenticatedReadTimeout = 5 * time.Second
