package serve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/reruntest"
)

// deadlineWriter is a ResponseWriter whose read deadlines are recorded.
type deadlineWriter struct {
	http.ResponseWriter
	deadlines []time.Time
}

func (w *deadlineWriter) SetReadDeadline(d time.Time) error {
	w.deadlines = append(w.deadlines, d)
	return nil
}

// stepReader gives n bytes a read, each read one tick of its clock later;
// past the reads it has, it fails as a read past its deadline does.
type stepReader struct {
	now   time.Time
	tick  time.Duration
	n     int
	reads int
}

func (r *stepReader) Read(p []byte) (int, error) {
	r.now = r.now.Add(r.tick)
	if r.reads == 0 {
		return 0, errors.New("i/o timeout")
	}
	r.reads--
	return copy(p, bytes.Repeat([]byte("x"), r.n)), nil
}

// A body that keeps up with the minimum rate keeps its read deadline
// bodyStall ahead; one that trickles (50 bytes a second) sees it close in
// and is cut when it passes, with errTooSlow.
func TestMinRate(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		tick  time.Duration
		n     int
		reads int
		slow  bool
	}{
		{"fast", time.Millisecond, 4096, 40, false},
		{"trickle", time.Second, 50, 1000, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &stepReader{now: start, tick: c.tick, n: c.n, reads: c.reads}
			w := &deadlineWriter{}
			m := newMinRate(r, http.NewResponseController(w), func() time.Time { return r.now }, 2*time.Second)
			var err error
			read := 0
			for err == nil {
				var n int
				n, err = m.Read(make([]byte, 8192))
				read += n
				if err == nil && r.now.After(w.deadlines[len(w.deadlines)-1]) {
					// The connection would fail the next read: so does the reader.
					r.reads = 0
				}
			}
			last := w.deadlines[len(w.deadlines)-1]
			if c.slow {
				if !errors.Is(err, errTooSlow) || !m.cut || read > 4*50 {
					t.Errorf("trickle: %v after %d bytes (cut %v), want errTooSlow within a few seconds' bytes", err, read, m.cut)
				}
				return
			}
			if m.cut || read != c.n*c.reads {
				t.Errorf("fast: cut %v after %d bytes, want all %d read", m.cut, read, c.n*c.reads)
			}
			if want := r.now.Add(-time.Millisecond).Add(2 * time.Second); !last.Equal(want) {
				t.Errorf("fast: deadline %s, want %s (2 s past the last bytes)", last, want)
			}
		})
	}
}

// trickle sends a status check request's headers and the first bytes of
// a 1 MiB body (chunked: 600 KiB of it) from the address local, then
// stops; answerOf reads the answer.
func trickle(t *testing.T, h *harness, local string, chunked bool) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	c, err := d.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	head := "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Gitlab-Signature: 00ff\r\n"
	if chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n", 600<<10, strings.Repeat("x", 600<<10))
	} else {
		head += "Content-Length: 1048576\r\n\r\n{\"object_kind\""
	}
	if _, err := io.WriteString(c, head); err != nil {
		t.Fatal(err)
	}
	return c
}

// answerOf reads the status of the answer on c.
func answerOf(t *testing.T, c net.Conn) int {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A body that stalls is cut (408) once it falls below the minimum rate,
// and gives its bytes back to the pool.
func TestSlowBodyIsCut(t *testing.T) {
	gl := newStandIn(t)
	h := start(t, gl, func(c *config) { c.bodyStall = 50 * time.Millisecond })
	c := trickle(t, h, "127.0.0.1", false)
	if code := answerOf(t, c); code != http.StatusRequestTimeout {
		t.Errorf("a stalled body: %d, want 408", code)
	}
	waitFor(t, "the pool to be given back", func() bool { return h.svc.signedBody.inUse() == 0 })
}

// A body not yet authenticated holds about what came in, not what its
// Content-Length says: trickling senders hold little of the pool.
func TestSlowBodyHoldsWhatCameIn(t *testing.T) {
	gl := newStandIn(t)
	h := start(t, gl, func(c *config) { c.bodyStall = time.Minute })
	for range 8 {
		trickle(t, h, "127.0.0.1", false)
	}
	waitFor(t, "8 bodies to begin", func() bool { return h.svc.signedBody.inUse() == 8*signedStep })
	body := payload(t, project, path, 6, "a", 7, "backend")
	if code, _ := h.post(body, "X-Gitlab-Signature", sign(body, testSecret)); code != http.StatusAccepted {
		t.Errorf("a signed status check request beside 8 stalled 1 MiB bodies: %d, want 202", code)
	}
}

// One address fills its share of the pool of bodies not yet
// authenticated (a quarter) with stalled bodies and is refused past it;
// a correctly signed status check request from another address is
// still read and taken.
func TestPoolSharedByAddress(t *testing.T) {
	gl := newStandIn(t)
	h := start(t, gl, func(c *config) { c.bodyStall = time.Minute })
	share := h.svc.signedBody.share
	if share != h.svc.cfg.signedPool/4 {
		t.Fatalf("share %d, want a quarter of %d", share, h.svc.cfg.signedPool)
	}
	for range 4 { // 4 × 1 MiB: the chunked bodies reserve up to the cap
		trickle(t, h, "127.0.0.2", true)
	}
	waitFor(t, "127.0.0.2's share to fill", func() bool { return h.svc.signedBody.heldBy("127.0.0.2") == share })
	if code := answerOf(t, trickle(t, h, "127.0.0.2", false)); code != http.StatusServiceUnavailable {
		t.Errorf("past its share: %d, want 503", code)
	}
	body := payload(t, project, path, 5, "a", 7, "backend")
	if code, _ := h.post(body, "X-Gitlab-Signature", sign(body, testSecret)); code != http.StatusAccepted {
		t.Errorf("a signed status check request from another address: %d, want 202", code)
	}
	if held := h.svc.signedBody.heldBy("127.0.0.1"); held != 0 {
		t.Errorf("127.0.0.1 still holds %d bytes once answered", held)
	}
}

// Client addresses are counted by IP, IPv6 by its /64.
func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.2:5000":               "127.0.0.2",
		"192.0.2.1:1":                  "192.0.2.1",
		"[::ffff:10.0.0.1]:80":         "10.0.0.1",
		"[2001:db8:1:2:3::4]:443":      "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::9]:1":     "2001:db8:1:2::/64",
		"[2001:db8:1:3::1]:8080":       "2001:db8:1:3::/64",
		"[2001:db8:0:0:1:2:3:4]:65535": "2001:db8::/64",
		"not an address":               "not an address",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// One address reads at most an eighth of the connection cap's bodies not
// yet authenticated at once: bodies that trickle at the minimum rate take
// few bytes each, and would otherwise keep every connection busy.
func TestUnverifiedBodiesPerAddress(t *testing.T) {
	gl := newStandIn(t)
	h := start(t, gl, func(c *config) { c.bodyStall = time.Minute; c.maxConns = 16 })
	reading := func(key string) int {
		h.svc.signedBody.mu.Lock()
		defer h.svc.signedBody.mu.Unlock()
		return h.svc.signedBody.readingLocked(key)
	}
	trickle(t, h, "127.0.0.2", false)
	trickle(t, h, "127.0.0.2", false)
	waitFor(t, "two bodies from 127.0.0.2", func() bool { return reading("127.0.0.2") == 2 })
	if code := answerOf(t, trickle(t, h, "127.0.0.2", false)); code != http.StatusServiceUnavailable {
		t.Errorf("a third body from one address with a cap of 16 connections: %d, want 503", code)
	}
	body := payload(t, project, path, 8, "a", 7, "backend")
	if code, _ := h.post(body, "X-Gitlab-Signature", sign(body, testSecret)); code != http.StatusAccepted {
		t.Errorf("a signed status check request from another address: %d, want 202", code)
	}
	if n := reading("127.0.0.1"); n != 0 {
		t.Errorf("127.0.0.1 still counts %d bodies once answered", n)
	}
}

// When the pool is full, takeFor ends the oldest body of the address
// holding the most among those read for preemptAge or more (not the
// oldest of all), and the newcomer gets the bytes it gives back; bodies
// younger than preemptAge are not ended, nor is anything ended for a
// key past its own share.
func TestPreemptOldestOfAddressHoldingMost(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	b := newSharedBudget(80, 50)
	b.now = func() time.Time { return now }
	var ended []string
	add := func(name, key string, at time.Duration, n int64) *reader {
		t.Helper()
		now = t0.Add(at)
		rd := &reader{key: key}
		// As a real body's read: ended under the budget's lock, it gives
		// its bytes back from its own goroutine.
		rd.end = func() { ended = append(ended, name); go b.leave(rd) }
		if !b.enter(rd, 32) || !b.takeFor(context.Background(), rd, n) {
			t.Fatalf("%s: no room for %d bytes", name, n)
		}
		return rd
	}
	add("b1", "B", 0, 25) // the oldest, of an address that holds less
	add("a1", "A", time.Second, 20)
	add("a2", "A", 2*time.Second, 20)
	add("c1", "C", 2500*time.Millisecond, 15)
	newcomer := &reader{key: "D", end: func() { t.Error("the newcomer was ended") }}
	if !b.enter(newcomer, 32) {
		t.Fatal("the newcomer did not enter")
	}

	now = t0.Add(1500 * time.Millisecond) // every body younger than preemptAge but b1
	if v := b.victimLocked(newcomer); v == nil || v.key != "B" {
		t.Errorf("with only b1 of age: victim %+v, want b1", v)
	}
	now = t0.Add(900 * time.Millisecond) // all younger: none to end
	if v := b.victimLocked(newcomer); v != nil {
		t.Errorf("all younger than %s: victim %+v, want none", preemptAge, v)
	}

	now = t0.Add(2500 * time.Millisecond) // b1 and a1 of age; A holds the most
	if b.takeFor(context.Background(), &reader{key: "A"}, 15) {
		t.Error("A took past its share of 50")
	}
	if len(ended) != 0 {
		t.Errorf("ended %v for a body past its share, want none", ended)
	}
	if !b.takeFor(context.Background(), newcomer, 10) {
		t.Fatal("the newcomer got no room in the full pool")
	}
	if len(ended) != 1 || ended[0] != "a1" {
		t.Errorf("ended %v, want [a1]: the oldest of A, which holds the most", ended)
	}
	if used, a, d := b.inUse(), b.heldBy("A"), b.heldBy("D"); used != 70 || a != 20 || d != 10 {
		t.Errorf("pool %d, A %d, D %d; want 70, 20, 10: a1's bytes back, the newcomer's taken", used, a, d)
	}

	// Of the bodies waiting, the one whose address would hold the least
	// goes first (a small status check request before a growing body),
	// the earliest of equals.
	grow := &reader{key: "A", want: 8, since: 1} // A holds 20: 28
	small := &reader{key: "E", want: 4, since: 3}
	same := &reader{key: "F", want: 4, since: 2}
	b.readers = map[*reader]struct{}{grow: {}, small: {}, same: {}, {key: "G"}: {}}
	if first := b.firstLocked(); first != same {
		t.Errorf("first waiter %+v, want the earliest of those asking least (F)", first)
	}
	same.want = 0 // no longer waiting
	if first := b.firstLocked(); first != small {
		t.Errorf("first waiter %+v, want E, before A's growth", first)
	}
}

// Many addresses, each holding one stalled body well within its share,
// fill the pool between them: a correctly signed status check request
// still gets room, by ending the oldest of those bodies (which is
// answered 503), and is acted on.
func TestManyAddressesCannotFillThePool(t *testing.T) {
	gl := newStandIn(t)
	ours := gl.AddStatusCheck(project, path, "echoes-labels")
	gl.SetLabels(project, path, 5, passing)
	clk := &reruntest.Clock{}
	h := start(t, gl, func(c *config) { c.bodyStall = time.Minute; c.engine.Clock = clk })
	for i := range 16 { // 16 × 1 MiB (each chunked body reserves up to the cap)
		trickle(t, h, fmt.Sprintf("127.0.1.%d", i+1), true)
		waitFor(t, fmt.Sprintf("%d bodies in the pool", i+1), func() bool { return h.svc.signedBody.inUse() == int64(i+1)<<20 })
	}
	if used := h.svc.signedBody.inUse(); used != h.svc.cfg.signedPool {
		t.Fatalf("the pool holds %d of %d bytes, want it full", used, h.svc.cfg.signedPool)
	}
	_ = clk.Sleep(context.Background(), preemptAge) // every body now read for preemptAge
	sha := gl.HeadSHA(project, path, 5)
	body := payload(t, project, path, 5, sha, ours, passing)
	if code, _ := h.post(body, "X-Gitlab-Signature", sign(body, testSecret)); code != http.StatusAccepted {
		t.Fatalf("a signed status check request beside 16 addresses filling the pool: %d, want 202", code)
	}
	h.waitIdle()
	if got := gl.StatusChecks(project, 5); len(got) != 1 || got[0].Status != "passed" {
		t.Errorf("status check responses %+v, want one passed", got)
	}
	// The oldest body was ended (refused 503, logged as such; its answer
	// is not read here: under load the setup may outlast the server's
	// 15 s WriteTimeout, which a real body, cut at 5 s, never does) and
	// gave its bytes back; the others still hold theirs.
	waitFor(t, "the oldest body's refusal", func() bool {
		for _, l := range h.logs.lines("delivery") {
			if l["status"] == float64(http.StatusServiceUnavailable) && strings.Contains(fmt.Sprint(l["reason"]), "to make room") {
				return true
			}
		}
		return false
	})
	if held := h.svc.signedBody.heldBy("127.0.1.1"); held != 0 {
		t.Errorf("127.0.1.1 still holds %d bytes once ended", held)
	}
	if held := h.svc.signedBody.heldBy("127.0.1.2"); held != 1<<20 {
		t.Errorf("127.0.1.2 holds %d bytes, want its 1 MiB: one body ended, not more", held)
	}
}

// A body ended while it waits in takeFor for room to grow (not in its
// Read, where the deadline would reach it) gives up at once and gives its
// bytes back: without that it kept them for its own whole wait, and the
// request that ended it, waiting since before, got none.
func TestPreemptReachesABodyWaitingForRoom(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := t0
	at := func(d time.Duration) { mu.Lock(); now = t0.Add(d); mu.Unlock() }
	b := newSharedBudget(32, 32)
	b.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	waiting := func(rd *reader) func() bool {
		return func() bool { b.mu.Lock(); defer b.mu.Unlock(); return rd.want > 0 }
	}
	old := &reader{key: "A", end: func() {}} // not in its Read: the deadline reaches nothing
	young := &reader{key: "B", end: func() { t.Error("the young body was ended") }}
	for d, rd := range []*reader{old, young} {
		at(time.Duration(d) * 900 * time.Millisecond)
		if !b.enter(rd, 32) || !b.takeFor(context.Background(), rd, 16) {
			t.Fatal("no room in an empty pool")
		}
	}

	signed := &reader{key: "C", end: func() { t.Error("the signed request was ended") }}
	if !b.enter(signed, 32) {
		t.Fatal("the signed request did not enter")
	}
	got := make(chan bool, 1)
	go func() { got <- b.takeFor(context.Background(), signed, 4) }() // waits: nothing is a second old yet
	waitFor(t, "the signed request waiting for room", waiting(signed))
	oldGot := make(chan bool, 1)
	go func() { // as readGrowing: the old body's buffer is full, it asks for more, then gives back what it holds
		ok := b.takeFor(context.Background(), old, 16)
		if !ok {
			b.leave(old)
		}
		oldGot <- ok
	}()
	waitFor(t, "the old body waiting for room to grow", waiting(old))

	at(1500 * time.Millisecond) // the old body is of age, the young one not
	b.release(0)                // wake the waiters now rather than at their next look
	if !<-got {
		t.Error("the signed request got no room: the body ended while waiting for room kept its bytes")
	}
	if <-oldGot {
		t.Error("the ended body took more room")
	}
	if used, c := b.inUse(), b.heldBy("C"); used != 20 || c != 4 {
		t.Errorf("pool %d, signed %d; want 20 and 4: the old body's 16 back, the signed request's 4 taken", used, c)
	}
}
