package serve

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// byteBudget is a semaphore weighted in bytes: the bodies being read, all
// requests together, hold at most its size. Bytes are reserved before
// they are read and released once the delivery is parsed. With a share,
// the bytes taken under one key (a client's address: takeFor) are
// bounded too, so that no client can take the whole pool, and a full
// pool ends a body read slowly to make room, so that many cannot either.
type byteBudget struct {
	mu      sync.Mutex
	size    int64
	used    int64
	peak    int64         // the most ever reserved at once
	changed chan struct{} // closed and replaced on each release

	share   int64                // bytes one key may hold at most; 0: no bound
	byKey   map[string]int64     // bytes held, by key
	readers map[*reader]struct{} // bodies being read (enter to leave)
	now     func() time.Time     // the clock of their ages
	seq     uint64               // orders the waiters of takeFor
}

// preemptAge is how long a body not yet authenticated must have been
// read before takeFor may end it to make room: GitLab sends a status
// check request of a few KiB in milliseconds (1 MiB in well under a
// second), so only a sender slower than GitLab is ended, and a body just
// begun is not ended by the next one. preemptWait bounds the wait.
const (
	preemptAge  = time.Second
	preemptWait = time.Second
)

// reader is one body being read under key since start; end ends its read
// from another goroutine. The rest is under the budget's mu.
type reader struct {
	key   string
	start time.Time
	end   func()
	out   bool  // ended, or read in: its bytes come back soon
	held  int64 // bytes taken: a body holding none frees nothing if ended
	want  int64 // in takeFor: the bytes asked for; since orders the waits
	since uint64
}

// enter counts one more body being read for key, if key reads fewer
// than most now: the bytes a body first takes are few, so without it one
// address could keep every connection busy with bodies that trickle in
// at the minimum rate.
func (b *byteBudget) enter(rd *reader, most int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.readingLocked(rd.key) >= most {
		return false
	}
	rd.start = b.now()
	b.readers[rd] = struct{}{}
	return true
}

// readingLocked is the bodies being read for key.
func (b *byteBudget) readingLocked(key string) (n int) {
	for rd := range b.readers {
		if rd.key == key {
			n++
		}
	}
	return n
}

// leave is the end of a body that entered, which gives back the bytes
// it took.
func (b *byteBudget) leave(rd *reader) {
	b.mu.Lock()
	n := rd.held
	rd.held = 0
	delete(b.readers, rd)
	if b.byKey[rd.key] -= n; b.byKey[rd.key] <= 0 {
		delete(b.byKey, rd.key)
	}
	b.mu.Unlock()
	b.release(n)
}

// read says that rd's body is in: no longer one to end.
func (b *byteBudget) read(rd *reader) {
	b.mu.Lock()
	defer b.mu.Unlock()
	rd.out = true
}

// takeFor reserves n bytes for rd's key, within its share, waiting
// preemptWait at most. Waiters take in turn, the one whose key would
// hold the least first (a status check request of a few KiB before
// bodies that grow). When the pool is full the one whose turn it is
// makes room, as the connection cap does (connGuard): it ends a body
// read for preemptAge or more (victimLocked) and waits for its bytes.
func (b *byteBudget) takeFor(ctx context.Context, rd *reader, n int64) bool {
	ctx, cancel := context.WithTimeout(ctx, preemptWait)
	defer cancel()
	b.mu.Lock()
	b.seq++
	rd.want, rd.since = n, b.seq
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		rd.want = 0
		b.wakeLocked()
		b.mu.Unlock()
	}()
	var ended *reader // the body this waiter ended, until its bytes are back
	for {
		b.mu.Lock()
		// Ended while waiting here, not in its Read: it must not wait on
		// with its bytes while the one that ended it waits for them.
		if rd.out || b.share > 0 && n > b.share-b.byKey[rd.key] {
			b.mu.Unlock()
			return false
		}
		first := b.firstLocked() == rd
		if first && n <= b.size-b.used {
			b.used += n
			b.peak = max(b.peak, b.used)
			b.byKey[rd.key] += n
			rd.held += n
			b.mu.Unlock()
			return true
		}
		if _, waiting := b.readers[ended]; first && !waiting && ctx.Err() == nil {
			if ended = b.victimLocked(rd); ended != nil {
				ended.out = true
				// Under mu: the victim cannot have left (leave takes mu),
				// so its connection is not yet serving another request
				// whose read this deadline would cut.
				ended.end()
				b.wakeLocked() // in case it waits in takeFor
			}
		}
		wait := b.changed
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return false
		case <-wait:
		case <-time.After(preemptAge / 8): // a body may have come of age
		}
	}
}

// firstLocked is the waiter whose turn it is: the one whose key would
// hold the least once it took, the earliest of equals.
func (b *byteBudget) firstLocked() (first *reader) {
	holds := func(rd *reader) int64 { return rd.want + b.byKey[rd.key] }
	for rd := range b.readers {
		if rd.want > 0 && (first == nil || holds(rd) < holds(first) || (holds(rd) == holds(first) && rd.since < first.since)) {
			first = rd
		}
	}
	return first
}

// victimLocked is the body to end to make room for self: of the others
// still being read for preemptAge or more and holding bytes, the oldest
// of the key that holds the most; nil when there is none.
func (b *byteBudget) victimLocked(self *reader) (victim *reader) {
	now := b.now()
	for rd := range b.readers {
		if rd.out || rd == self || rd.held == 0 || now.Sub(rd.start) < preemptAge {
			continue
		}
		if victim == nil || b.byKey[rd.key] > b.byKey[victim.key] ||
			(b.byKey[rd.key] == b.byKey[victim.key] && rd.start.Before(victim.start)) {
			victim = rd
		}
	}
	return victim
}

func newByteBudget(size int64) *byteBudget {
	return &byteBudget{size: size, changed: make(chan struct{})}
}

// newSharedBudget is a budget of size in which one key holds share at most.
func newSharedBudget(size, share int64) *byteBudget {
	b := newByteBudget(size)
	b.share, b.byKey, b.readers, b.now = share, map[string]int64{}, map[*reader]struct{}{}, time.Now
	return b
}

// heldBy is the bytes key holds now (tests, the log).
func (b *byteBudget) heldBy(key string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.byKey[key]
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
			b.peak = max(b.peak, b.used)
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
	b.wakeLocked()
}

// wakeLocked wakes those waiting for a change.
func (b *byteBudget) wakeLocked() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// highWater is the most bytes ever reserved at once.
func (b *byteBudget) highWater() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// inUse is the bytes reserved now.
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

// A body not yet authenticated must keep coming at minBodyRate at least:
// each read buys the time its bytes are worth at that rate, and no more
// than bodyStall (config.bodyStall) ahead, so a sender that trickles (or stalls) is cut
// within seconds rather than holding its connection and its bytes.
const (
	minBodyRate = 8 << 10 // bytes a second
	bodyStall   = 2 * time.Second
)

// signedStep is the first buffer of a body not yet authenticated; it
// doubles as bytes come in, each growth taken from the pool first.
const signedStep = 16 << 10

// errTooSlow is a body that came in under minBodyRate.
var errTooSlow = errors.New("the body came in slower than the minimum rate")

// minRate holds a body's read deadline to minBodyRate (see above).
type minRate struct {
	body     io.Reader
	rc       *http.ResponseController
	now      func() time.Time
	stall    time.Duration
	deadline time.Time // the next bytes must come by then
	end      time.Time // the whole body by then
	cut      bool
	ended    atomic.Bool // by preempt
}

func newMinRate(body io.Reader, rc *http.ResponseController, now func() time.Time, stall time.Duration) *minRate {
	start := now()
	m := &minRate{body: body, rc: rc, now: now, stall: stall, deadline: start.Add(stall), end: start.Add(max(unauthenticatedReadTimeout, stall))}
	_ = rc.SetReadDeadline(m.deadline)
	return m
}

func (m *minRate) Read(p []byte) (int, error) {
	n, err := m.body.Read(p)
	now := m.now()
	if n > 0 {
		d := m.deadline.Add(time.Duration(n) * time.Second / minBodyRate)
		d = minTime(d, now.Add(m.stall), m.end)
		if !d.Equal(m.deadline) {
			m.deadline = d
			_ = m.rc.SetReadDeadline(d)
		}
	}
	if m.ended.Load() {
		// After the deadline above: preempt's deadline came last.
		return n, errPreempted
	}
	if err != nil && !errors.Is(err, io.EOF) && !now.Before(m.deadline) {
		m.cut = true
		return n, errTooSlow
	}
	return n, err
}

// errPreempted is a body whose read was ended to make room (takeFor).
var errPreempted = errors.New("the read was ended to make room in the pool")

// preempt ends the read from another goroutine: the Read blocked now, or
// the next one, fails with errPreempted (a connection's deadlines may be
// set from any goroutine).
func (m *minRate) preempt() {
	m.ended.Store(true)
	_ = m.rc.SetReadDeadline(time.Unix(1, 0))
}

func minTime(ts ...time.Time) time.Time {
	out := ts[0]
	for _, t := range ts[1:] {
		if t.Before(out) {
			out = t
		}
	}
	return out
}

// errNoRoom is a body whose next bytes the pool (or the client's share
// of it) has no room for.
var errNoRoom = errors.New("no room in the pool")

// readGrowing reads at most limit bytes of body, of which length bytes
// are announced (-1: unknown), into a buffer that starts at signedStep
// and doubles; take reserves each growth before it is made, so that the
// buffer never outgrows what is reserved, and a sender holds only about
// twice what it sent. A body past limit is errTooLarge; no room,
// errNoRoom.
func readGrowing(body io.Reader, length, limit int64, take func(n int64) bool) ([]byte, error) {
	if length > limit {
		return nil, errTooLarge
	}
	most := limit + 1 // one byte past the cap tells a body past it
	if length >= 0 {
		most = max(length, 1)
	}
	first := min(most, signedStep)
	if !take(first) {
		return nil, errNoRoom
	}
	buf := make([]byte, 0, first)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= most {
				if length >= 0 {
					// All that was announced is in; more is not read.
					return buf, nil
				}
				return nil, errTooLarge
			}
			grown := min(2*int64(cap(buf)), most)
			if !take(grown - int64(cap(buf))) {
				return nil, errNoRoom
			}
			next := make([]byte, len(buf), grown)
			copy(next, buf)
			buf = next
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		switch {
		case length < 0 && int64(len(buf)) > limit:
			return nil, errTooLarge
		case errors.Is(err, io.EOF):
			if length >= 0 && int64(len(buf)) < length {
				return nil, io.ErrUnexpectedEOF
			}
			return buf, nil
		case err != nil:
			return nil, err
		}
	}
}
