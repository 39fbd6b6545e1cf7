package serve

import (
	"context"
	"testing"
	"time"
)

func tk(project, iid int64, updated string, labels ...string) *task {
	return &task{key: mrKey{project, iid}, updated: updated, labels: labels, deliveries: []delivery{{id: updated}}}
}

func TestQueueCoalescesPerMergeRequest(t *testing.T) {
	q := newQueue(2, 0)
	if merged, ok := q.push(tk(1, 1, "2026-01-01 10:00:01 UTC", "a")); merged || !ok {
		t.Fatal("first push")
	}
	// Older news arriving late does not overwrite newer labels.
	if merged, ok := q.push(tk(1, 1, "2026-01-01 10:00:00 UTC", "old")); !merged || !ok {
		t.Fatal("second push for the same merge request was not merged")
	}
	q.push(tk(1, 1, "2026-01-01 10:00:02 UTC", "b"))
	q.push(tk(1, 2, "x"))
	if _, ok := q.push(tk(1, 3, "x")); ok {
		t.Error("a third merge request fitted in a queue of 2")
	}
	if _, ok := q.push(tk(1, 1, "2026-01-01 10:00:03 UTC", "c")); !ok {
		t.Error("a full queue refused work for a merge request already waiting")
	}
	got := q.pop()
	if got.key != (mrKey{1, 1}) || len(got.labels) != 1 || got.labels[0] != "c" || len(got.deliveries) != 4 {
		t.Errorf("popped %+v, want !1 with the newest labels and 4 deliveries", got)
	}
}

// A merge request in flight is not handed to a second worker; work that
// arrives for it meanwhile waits, then runs.
func TestQueueOneWorkerPerMergeRequest(t *testing.T) {
	q := newQueue(10, 0)
	q.push(tk(1, 1, "1"))
	first := q.pop()
	q.push(tk(1, 1, "2"))
	q.push(tk(1, 2, "3"))
	if got := q.pop(); got.key != (mrKey{1, 2}) {
		t.Fatalf("popped %v while !1 is in flight, want !2", got.key)
	}
	popped := make(chan *task)
	go func() { popped <- q.pop() }()
	select {
	case got := <-popped:
		t.Fatalf("popped %v while !1 was still in flight", got.key)
	case <-time.After(50 * time.Millisecond):
	}
	q.done(first.key)
	if got := <-popped; got.key != (mrKey{1, 1}) || got.updated != "2" {
		t.Errorf("after done: %+v, want !1's later work", got)
	}
}

func TestQueueCloseDrainsAndPushWait(t *testing.T) {
	q := newQueue(1, 0)
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
	if got := q.pop(); got == nil || got.key != (mrKey{1, 3}) {
		t.Errorf("close lost the waiting work: %v", got)
	}
	q.done(first.key)
	if got := q.pop(); got != nil {
		t.Errorf("pop after drain: %v, want nil", got)
	}
}

// A new merge request's task waits settle, gathering its burst, before a
// worker may take it; closing the queue ends the wait.
func TestQueueSettles(t *testing.T) {
	q := newQueue(10, 100*time.Millisecond)
	began := time.Now()
	q.push(tk(1, 1, "1"))
	q.push(tk(1, 1, "2"))
	got := q.pop()
	if waited := time.Since(began); waited < 90*time.Millisecond || len(got.deliveries) != 2 {
		t.Errorf("popped after %s with %d deliveries, want after the settle time with both", waited, len(got.deliveries))
	}
	q.done(got.key)
	q.push(tk(1, 2, "3"))
	q.close()
	began = time.Now()
	if got := q.pop(); got == nil || time.Since(began) > 50*time.Millisecond {
		t.Errorf("close did not end the settling: %v after %s", got, time.Since(began))
	}
}
