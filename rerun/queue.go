package rerun

import (
	"context"
	"sync"
	"time"
)

// Key names one merge request: the unit of coalescing.
type Key struct{ Project, IID int64 }

// Delivery is one webhook request as the log line reports it.
type Delivery struct {
	ID       string // Idempotency-Key (the same across GitLab's retries); "reconcile" for a sweep
	UUID     string // X-Gitlab-Webhook-UUID: new for each request GitLab sends
	Received time.Time
}

// Task is the work pending for one merge request: only which merge
// request it is. Deliveries for the same merge request merge into one
// task, so a burst costs one look at GitLab; what to do is decided from
// GitLab's state when a worker takes it, never from a payload.
type Task struct {
	Key Key
	// Path is the project's path for the log: a payload's until the
	// worker read GitLab's (which alone --watch is decided on, and which
	// the delivery line names).
	Path string
	// StatusCheck: a status check request asked about this merge request,
	// so its status checks are looked at whatever the project cache says.
	StatusCheck bool
	// JobEventsOnly: every delivery was a job event, whose project is the
	// one the pipeline ran in, a fork's maybe, while the iid is the
	// target's: a merge request GitLab does not find there is no fault.
	JobEventsOnly bool
	Deliveries    []Delivery
	dropped       int  // deliveries merged beyond the ones kept for the log
	ready         bool // in the queue's ready list
	// swept: the task came from a sweep (pushWait) and no delivery has
	// merged into it: it takes the sweep's room, and deliveries go first.
	swept bool
}

// NewTask is the task of one delivery for the merge request key; path
// names its project in the log.
func NewTask(key Key, path string, d Delivery) *Task {
	return &Task{Key: key, Path: Clip(path), Deliveries: []Delivery{d}}
}

// maxDeliveriesPerTask bounds the memory a burst on one merge request takes.
const maxDeliveriesPerTask = 64

// merge folds a newer delivery's task into t.
func (t *Task) merge(n *Task) {
	if n.Path != "" {
		t.Path = n.Path
	}
	t.StatusCheck = t.StatusCheck || n.StatusCheck
	t.JobEventsOnly = t.JobEventsOnly && n.JobEventsOnly
	for _, d := range n.Deliveries {
		if len(t.Deliveries) < maxDeliveriesPerTask {
			t.Deliveries = append(t.Deliveries, d)
		} else {
			t.dropped++
		}
	}
	t.dropped += n.dropped
}

// queue holds at most size merge requests' tasks, of which a sweep's take
// at most sweepRoom: a sweep of thousands of merge requests waits for its
// room (pushWait) and never takes the room deliveries need, and a worker
// takes a ready delivery before a ready sweep task. It hands each to one worker
// at a time, never runs two tasks for the same merge request at once, and
// never more than perProject tasks of one project (so that a project
// whose GitLab calls hang cannot hold every worker: a ready task of a
// project at its limit is skipped for the next one):
// a delivery arriving while its merge request is being worked on waits for
// that work to end, then runs against GitLab's new state. A new task waits
// settle before a worker may take it, so that a burst (labels edited five
// times, a delivery sent twice) costs GitLab one look, not one per delivery.
type queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	size   int
	settle time.Duration
	// jitter, when set, adds jitter(settle) to each task's settle.
	jitter   func(max time.Duration) time.Duration
	pending  map[Key]*Task
	ready    []Key // pending and not in flight, oldest first
	inFlight map[Key]bool
	// perProject bounds the tasks of one project in flight (0: no bound);
	// projects counts them.
	perProject int
	projects   map[int64]int
	// sweepRoom bounds the pending tasks of a sweep (swept); the rest of
	// size is the deliveries'.
	sweepRoom, swept int
	closed           bool
}

func newQueue(size int, settle time.Duration, perProject int) *queue {
	q := &queue{size: size, settle: settle, pending: map[Key]*Task{}, inFlight: map[Key]bool{},
		perProject: perProject, projects: map[int64]int{}, sweepRoom: SweepRoom(size)}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// SweepRoom is the part of a queue of size merge requests a sweep may
// fill: a quarter (at least 1), which keeps the workers busy, the rest
// being the deliveries'.
func SweepRoom(size int) int { return max(size/4, 1) }

// push adds t, merging it into the pending task of its merge request. It
// returns false when the queue is full or closed: the caller answers GitLab
// anyway and the reconcile catches up.
func (q *queue) push(t *Task) (merged, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pushLocked(t)
}

func (q *queue) pushLocked(t *Task) (merged, ok bool) {
	if q.closed {
		return false, false
	}
	if p := q.pending[t.Key]; p != nil {
		if p.swept && !t.swept {
			p.swept = false // a delivery's now: it goes first
			q.swept--
			q.cond.Broadcast() // room for pushWait
		}
		p.merge(t)
		return true, true
	}
	if len(q.pending) >= q.size || (t.swept && q.swept >= q.sweepRoom) {
		return false, false
	}
	if t.swept {
		q.swept++
	}
	q.pending[t.Key] = t
	wait := q.settle
	if q.jitter != nil && q.settle > 0 {
		wait += q.jitter(q.settle)
	}
	if wait <= 0 {
		q.makeReady(t.Key)
	} else {
		k := t.Key
		time.AfterFunc(wait, func() { q.mu.Lock(); q.makeReady(k); q.mu.Unlock() })
	}
	return false, true
}

// makeReady lets a worker take k's pending task, unless a worker holds k
// (done will) or it is already ready. q.mu is held.
func (q *queue) makeReady(k Key) {
	if t := q.pending[k]; t != nil && !t.ready && !q.inFlight[k] {
		t.ready = true
		q.ready = append(q.ready, k)
		q.cond.Signal()
	}
}

// pushWait is push for a sweep, which waits for room within the sweep's
// (sweepRoom) instead of taking the deliveries'.
func (q *queue) pushWait(ctx context.Context, t *Task) bool {
	t.swept = true
	stop := context.AfterFunc(ctx, func() { q.mu.Lock(); q.cond.Broadcast(); q.mu.Unlock() })
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if _, ok := q.pushLocked(t); ok || q.closed {
			return ok
		}
		if ctx.Err() != nil {
			return false
		}
		q.cond.Wait()
	}
}

// pop waits for a task whose merge request no worker holds. It returns
// nil once the queue is closed and drained.
func (q *queue) pop() *Task {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if i := q.next(); i >= 0 {
			k := q.ready[i]
			q.ready = append(q.ready[:i], q.ready[i+1:]...)
			t := q.pending[k]
			delete(q.pending, k)
			if t.swept {
				q.swept--
			}
			q.inFlight[k] = true
			q.projects[k.Project]++
			q.cond.Broadcast() // room for pushWait
			return t
		}
		// Work held back behind a merge request in flight still counts.
		if q.closed && len(q.pending) == 0 {
			return nil
		}
		q.cond.Wait()
	}
}

// next is the index in ready of the oldest delivery's task whose project
// is below its limit, else the oldest sweep's, -1 when there is none. q.mu
// is held.
func (q *queue) next() int {
	sweep := -1
	for i, k := range q.ready {
		if q.perProject <= 0 || q.projects[k.Project] < q.perProject {
			if !q.pending[k].swept {
				return i
			}
			if sweep < 0 {
				sweep = i
			}
		}
	}
	return sweep
}

// done releases a merge request; work that arrived meanwhile becomes ready.
func (q *queue) done(k Key) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, k)
	if q.projects[k.Project]--; q.projects[k.Project] <= 0 {
		delete(q.projects, k.Project)
	}
	// Work that came meanwhile has waited at least as long as this took.
	q.makeReady(k)
	q.cond.Broadcast() // also wakes idle workers to exit once closed and drained
}

// close refuses new work; pop drains what is left.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for k := range q.pending {
		q.makeReady(k) // stopping: no more settling
	}
	q.cond.Broadcast()
}

// depth is the number of merge requests waiting.
func (q *queue) depth() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// abandon empties the queue and returns what was waiting.
func (q *queue) abandon() []*Task {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*Task
	for _, t := range q.pending {
		out = append(out, t)
	}
	q.pending, q.ready, q.swept = map[Key]*Task{}, nil, 0
	q.cond.Broadcast()
	return out
}

// idle is true when nothing is waiting or being worked on.
func (q *queue) idle() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending) == 0 && len(q.inFlight) == 0
}
