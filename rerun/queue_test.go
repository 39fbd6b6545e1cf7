package rerun

import (
	"context"
	"testing"
	"time"
)

// tk is a task of one delivery, named id, for merge request iid.
func tk(project, iid int64, id string) *Task {
	return NewTask(Key{project, iid}, "", Delivery{ID: id})
}

func TestQueueCoalescesPerMergeRequest(t *testing.T) {
	q := newQueue(2, 0, 0)
	if merged, ok := q.push(tk(1, 1, "a")); merged || !ok {
		t.Fatal("first push")
	}
	check := tk(1, 1, "check")
	check.StatusCheck = true
	if merged, ok := q.push(check); !merged || !ok {
		t.Fatal("second push for the same merge request was not merged")
	}
	q.push(tk(1, 1, "b"))
	q.push(tk(1, 2, "x"))
	if _, ok := q.push(tk(1, 3, "x")); ok {
		t.Error("a third merge request fitted in a queue of 2")
	}
	if _, ok := q.push(tk(1, 1, "c")); !ok {
		t.Error("a full queue refused work for a merge request already waiting")
	}
	got := q.pop()
	if got.Key != (Key{1, 1}) || !got.StatusCheck || len(got.Deliveries) != 4 {
		t.Errorf("popped %+v, want !1 with 4 deliveries, marked as asked by a status check request", got)
	}
}

// A project with perProject tasks in flight gets no worker more: its
// next ready task is skipped for another project's, and runs once one of
// its own is done.
func TestQueuePerProjectLimit(t *testing.T) {
	q := newQueue(10, 0, 2)
	for iid := int64(1); iid <= 3; iid++ {
		q.push(tk(1, iid, "slow"))
	}
	q.push(tk(2, 1, "healthy"))
	a, b := q.pop(), q.pop()
	if a.Key.Project != 1 || b.Key.Project != 1 {
		t.Fatalf("popped %v and %v, want project 1's first two", a.Key, b.Key)
	}
	if got := q.pop(); got.Key != (Key{2, 1}) {
		t.Fatalf("popped %v with project 1 at its limit, want project 2's", got.Key)
	}
	popped := make(chan *Task)
	go func() { popped <- q.pop() }()
	select {
	case got := <-popped:
		t.Fatalf("popped %v while project 1 is at its limit", got.Key)
	case <-time.After(50 * time.Millisecond):
	}
	q.done(a.Key)
	if got := <-popped; got.Key != (Key{1, 3}) {
		t.Errorf("after done: %v, want project 1's third", got.Key)
	}
}

// A merge request in flight is not handed to a second worker; work that
// arrives for it meanwhile waits, then runs.
func TestQueueOneWorkerPerMergeRequest(t *testing.T) {
	q := newQueue(10, 0, 0)
	q.push(tk(1, 1, "1"))
	first := q.pop()
	q.push(tk(1, 1, "2"))
	q.push(tk(1, 2, "3"))
	if got := q.pop(); got.Key != (Key{1, 2}) {
		t.Fatalf("popped %v while !1 is in flight, want !2", got.Key)
	}
	popped := make(chan *Task)
	go func() { popped <- q.pop() }()
	select {
	case got := <-popped:
		t.Fatalf("popped %v while !1 was still in flight", got.Key)
	case <-time.After(50 * time.Millisecond):
	}
	q.done(first.Key)
	if got := <-popped; got.Key != (Key{1, 1}) || got.Deliveries[0].ID != "2" {
		t.Errorf("after done: %+v, want !1's later work", got)
	}
}

func TestQueueCloseDrainsAndPushWait(t *testing.T) {
	q := newQueue(1, 0, 0)
	q.push(tk(1, 1, "1"))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if q.pushWait(ctx, tk(1, 2, "2")) {
		t.Fatal("pushWait fitted a second merge request in a queue of 1")
	}
	waited := make(chan bool)
	go func() { waited <- q.pushWait(context.Background(), tk(1, 3, "3")) }()
	first := q.pop()
	if !<-waited {
		t.Fatal("pushWait did not get the room pop made")
	}
	q.close()
	if _, ok := q.push(tk(1, 4, "4")); ok {
		t.Error("push after close")
	}
	if got := q.pop(); got == nil || got.Key != (Key{1, 3}) {
		t.Errorf("close lost the waiting work: %v", got)
	}
	q.done(first.Key)
	if got := q.pop(); got != nil {
		t.Errorf("pop after drain: %v, want nil", got)
	}
}

// A new merge request's task waits settle, gathering its burst, before a
// worker may take it; closing the queue ends the wait.
func TestQueueSettles(t *testing.T) {
	q := newQueue(10, 100*time.Millisecond, 0)
	began := time.Now()
	q.push(tk(1, 1, "1"))
	q.push(tk(1, 1, "2"))
	got := q.pop()
	if waited := time.Since(began); waited < 90*time.Millisecond || len(got.Deliveries) != 2 {
		t.Errorf("popped after %s with %d deliveries, want after the settle time with both", waited, len(got.Deliveries))
	}
	q.done(got.Key)
	// Closing ends the settle of what waits: pop does not wait the hour.
	q.settle = time.Hour
	q.push(tk(1, 2, "3"))
	q.close()
	if got := q.pop(); got == nil || got.Key != (Key{1, 2}) {
		t.Errorf("close did not end the settling: popped %v, want !2", got)
	}
}

// Unset, the tasks of one project in flight are half the workers, rounded up.
func TestPerProjectLimitDefault(t *testing.T) {
	cfg := DefaultConfig()
	if got := perProjectLimit(cfg); got != 2 {
		t.Errorf("per project with 4 workers: %d, want 2", got)
	}
	cfg.Workers, cfg.PerProject = 5, 0
	if got := perProjectLimit(cfg); got != 3 {
		t.Errorf("per project with 5 workers: %d, want 3", got)
	}
}

// A sweep fills only its room (a quarter of the queue): a sweep ten times
// the queue's size leaves the rest to deliveries, every one of which is
// queued, and a worker takes a ready delivery before the sweep's older
// tasks. A delivery merged into a swept task frees the sweep's room.
func TestSweepLeavesDeliveriesTheirRoom(t *testing.T) {
	const size = 8
	q := newQueue(size, 0, 0)
	full, cancel := context.WithCancel(context.Background())
	cancel() // pushWait takes room when there is some, and never waits
	swept := 0
	for iid := int64(1); iid <= 10*size; iid++ {
		if q.pushWait(full, tk(1, iid, "reconcile")) {
			swept++
		}
	}
	if room := SweepRoom(size); swept != room || room != 2 {
		t.Fatalf("a sweep of %d took %d of a queue of %d, want its room %d", 10*size, swept, size, room)
	}
	for iid := int64(1000); iid < 1000+size-2; iid++ {
		if _, ok := q.push(tk(2, iid, "hook")); !ok {
			t.Fatalf("delivery !%d refused while a sweep runs (%d waiting)", iid, q.depth())
		}
	}
	if _, ok := q.push(tk(2, 2000, "hook")); ok {
		t.Error("a delivery past the queue's size was queued")
	}
	for i := 0; i < size-2; i++ {
		if got := q.pop(); got.Key.Project != 2 {
			t.Fatalf("pop %d took %v, a sweep's task, while deliveries were ready", i, got.Key)
		}
	}
	// A delivery for a swept merge request makes it a delivery's: the
	// sweep gets that room back.
	if merged, ok := q.push(tk(1, 1, "hook")); !merged || !ok {
		t.Fatal("a delivery for a swept merge request was not merged")
	}
	if !q.pushWait(full, tk(1, 500, "reconcile")) {
		t.Error("the sweep did not get back the room of a task a delivery merged into")
	}
	if got := q.pop(); got.Key != (Key{1, 1}) || len(got.Deliveries) != 2 {
		t.Errorf("popped %v, want !1 with the sweep's and the delivery's", got.Key)
	}
}
