package serve

import (
	"errors"
	"net"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// acceptAll runs g's Accept loop, handing each connection to the channel.
func acceptAll(g *connGuard) chan net.Conn {
	out := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := g.Accept()
			if err != nil {
				close(out)
				return
			}
			out <- c
		}
	}()
	return out
}

// guarded is a connGuard of limit connections over a fresh loopback
// listener, inner, closed when the test ends.
func guarded(t *testing.T, limit int) (g *connGuard, inner net.Listener) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g = newConnGuard(inner, limit)
	t.Cleanup(func() { g.Close() })
	return g, inner
}

// dialFrom connects to inner from the loopback address from and sends a
// request's first byte, so the guard is handed the connection at once
// (deferAccept); the connection is closed when the test ends.
func dialFrom(t *testing.T, inner net.Listener, from string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_, _ = c.Write([]byte("P"))
	return c
}

// closedByServer reports whether the server side closed c: a read sees
// EOF (or a reset) rather than the test's own deadline.
func closedByServer(t *testing.T, c net.Conn) bool {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// At the cap, the connection that has waited longest for its headers is
// closed to make room; one whose request is in (busy) is never closed:
// when all are busy, the next waits until one ends.
func TestConnGuardMakesRoomFromTheOldestWaiting(t *testing.T) {
	g, inner := guarded(t, 2)
	accepted := acceptAll(g)
	dial := func() net.Conn { return dialFrom(t, inner, "127.0.0.1") }
	dial()
	s1 := <-accepted
	c2 := dial()
	s2 := <-accepted
	// s1 is now busy with a request; s2 waits for its headers, then a
	// third comes: s2, not s1, makes room.
	g.track(s1, http.StateActive)
	dial()
	s3 := <-accepted
	if g.evicted.Load() != 1 || g.count() != 2 {
		t.Fatalf("evicted %d, open %d: want 1 and 2", g.evicted.Load(), g.count())
	}
	if _, err := s2.Write([]byte("x")); err == nil {
		t.Error("the connection waiting for headers was not closed to make room")
	}
	if _, err := s1.Write([]byte("x")); err != nil {
		t.Errorf("the busy connection was closed: %v", err)
	}
	// Both busy: the fourth waits until one ends.
	g.track(s3, http.StateActive)
	dial()
	s1.Close()
	s4 := <-accepted
	if g.evicted.Load() != 1 {
		t.Errorf("evicted %d with every connection busy, want still 1", g.evicted.Load())
	}
	if _, err := s3.Write([]byte("x")); err != nil {
		t.Errorf("the other busy connection was closed: %v", err)
	}
	if !closedByServer(t, c2) {
		t.Error("the client of the connection closed to make room did not see it close")
	}
	// Back to waiting for its next request's headers (keep-alive), s3 may
	// make room again.
	g.track(s3, http.StateIdle)
	dial()
	<-accepted
	if g.evicted.Load() != 2 {
		t.Errorf("evicted %d once a connection went idle, want 2", g.evicted.Load())
	}
	s4.Close()
}

// --health-listen has a cap of its own: connections that send a request's
// first bytes and no more, three times its cap from one address, leave
// the probes from another answered; no more than the cap are held open,
// and a quarter of it by one address.
func TestHealthListenerCapped(t *testing.T) {
	gl := newStandIn(t)
	h := start(t, gl, func(c *config) { c.healthListen = "127.0.0.1:0" })
	h.svc.startedOK.Store(true)
	addr := strings.TrimPrefix(h.healthURL, "http://")
	var idle []net.Conn
	stranger := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	for range 3 * healthConns {
		c, err := stranger.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, _ = c.Write([]byte("GET /readyz HTTP/1.1\r\n"))
		idle = append(idle, c)
	}
	for _, p := range []string{pathReadyz, pathLivez, pathMetrics} {
		resp, err := testClient.Get(h.healthURL + p)
		if err != nil {
			t.Fatalf("GET %s with %d idle connections: %v", p, len(idle), err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", p, resp.StatusCode)
		}
	}
	g := h.svc.healthGuard.Load()
	if n := g.count(); n > healthConns {
		t.Errorf("%d connections open on --health-listen, past its cap of %d", n, healthConns)
	}
	g.mu.Lock()
	held := g.byClient["127.0.0.2"]
	g.mu.Unlock()
	if held > healthConns/4 {
		t.Errorf("127.0.0.2 holds %d connections, past a quarter of %d", held, healthConns)
	}
	if !closedByServer(t, idle[len(idle)-1]) {
		t.Error("the last connection of the address past its quarter is still open")
	}
}

// At the cap, the address with the most connections waiting for headers
// gives one up, its oldest: a stranger's own connections make room, not
// the older lone connection of another address.
func TestConnGuardMakesRoomFromTheBusiestAddress(t *testing.T) {
	g, inner := guarded(t, 3)
	accepted := acceptAll(g)
	dial := func(from string) net.Conn { return dialFrom(t, inner, from) }
	lone := dial("127.0.0.1")
	<-accepted
	first := dial("127.0.0.2")
	<-accepted
	dial("127.0.0.2")
	<-accepted
	dial("127.0.0.2")
	<-accepted
	if g.evicted.Load() != 1 || !closedByServer(t, first) {
		t.Fatalf("evicted %d: want 1, the busiest address's oldest", g.evicted.Load())
	}
	_ = lone.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := lone.Read(make([]byte, 1)); !isTimeout(err) {
		t.Errorf("the lone older connection of another address was closed: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A connection whose refusal is answered (it closes after net/http's
// linger) makes room before any connection still waiting for headers.
func TestConnGuardClosesAnsweredFirst(t *testing.T) {
	g, inner := guarded(t, 2)
	accepted := acceptAll(g)
	dial := func() net.Conn { return dialFrom(t, inner, "127.0.0.1") }
	waiting := dial()
	<-accepted
	refused := dial()
	s2 := <-accepted
	g.track(s2, http.StateActive)
	r, _ := http.NewRequestWithContext(withConn(t.Context(), s2), http.MethodPost, "/webhook", nil)
	answered(r)
	dial()
	<-accepted
	if g.evicted.Load() != 1 || !closedByServer(t, refused) {
		t.Fatalf("evicted %d: want 1, the answered connection", g.evicted.Load())
	}
	_ = waiting.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := waiting.Read(make([]byte, 1)); !isTimeout(err) {
		t.Errorf("the older connection waiting for headers was closed first: %v", err)
	}
}

// On Linux the cap's listener hands over connections only once they send
// something (TCP_DEFER_ACCEPT): idle ones wait in the kernel.
func TestDeferAccept(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_DEFER_ACCEPT is Linux's")
	}
	_, inner := guarded(t, 2)
	raw, err := inner.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got int
	var gerr error
	_ = raw.Control(func(fd uintptr) {
		got, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_DEFER_ACCEPT)
	})
	if gerr != nil || got == 0 {
		t.Errorf("TCP_DEFER_ACCEPT = %d (%v), want it set", got, gerr)
	}
}

// With a bound per client (--health-listen's), a client at it has its
// new connections closed as soon as accepted; another client still gets in.
func TestConnGuardPerClient(t *testing.T) {
	g, inner := guarded(t, 8)
	g.perClient = 2
	accepted := acceptAll(g)
	dial := func(from string) net.Conn { return dialFrom(t, inner, from) }
	dial("127.0.0.2")
	<-accepted
	dial("127.0.0.2")
	<-accepted
	third := dial("127.0.0.2")
	dial("127.0.0.1")
	if c := <-accepted; clientKey(c.RemoteAddr().String()) != "127.0.0.1" {
		t.Errorf("accepted %s, want 127.0.0.1's connection", c.RemoteAddr())
	}
	if !closedByServer(t, third) || g.count() != 3 {
		t.Errorf("open %d: want the third of 127.0.0.2 closed, 3 open", g.count())
	}
}
