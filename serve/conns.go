package serve

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// healthConns caps the connections of --health-listen: the kubelet's
// probes and a scraper need a handful.
const healthConns = 64

// deferSeconds is how long a connection that sends nothing waits in the
// kernel before Accept sees it (deferAccept).
const deferSeconds = 5

// connGuard caps the connections of one listener at max. At the cap, a
// connection that has not sent a whole request's headers (just opened,
// or idle between requests) is closed to make room for the new one, the
// oldest of the address that has the most of them: idle or trickling
// strangers cannot keep GitLab out.
// When every connection is in the middle of a request, Accept waits for
// one to end (the kernel's backlog holds the rest). Its track method must
// be the http.Server's ConnState, which tells it when a connection's
// headers are in.
type connGuard struct {
	net.Listener
	max int

	mu      sync.Mutex
	open    map[*guardedConn]struct{}
	seq     uint64        // orders the connections by when they last began to wait for headers
	room    chan struct{} // closed and replaced each time a connection leaves
	done    chan struct{}
	closing sync.Once

	evicted atomic.Int64 // connections closed to make room

	// perClient, when not 0, is the most connections one client address
	// holds: past it a new one is closed as soon as accepted, before it
	// costs a goroutine (--health-listen, which no proxy stands before).
	perClient int
	byClient  map[string]int // open connections by client, under mu
}

// guardedConn is one connection of a connGuard.
type guardedConn struct {
	net.Conn
	g      *connGuard
	client string // clientKey of its remote address
	// Under g.mu: busy while a request's headers are in and it is being
	// answered; since orders the connections waiting for headers.
	busy  bool
	since uint64
	// done: answered and about to close (a refusal): the first to close
	// to make room, since net/http lingers half a second before closing.
	done bool
}

type connKey struct{}

// withConn is the http.Server's ConnContext: a request's context holds
// its connection, for answered.
func withConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// answered marks the connection of r, whose answer (a refusal, which
// closes the connection) is written, as the first to close to make
// room: strangers refused by the thousand do not hold the cap while
// net/http lingers before closing their connections.
func answered(r *http.Request) {
	gc, ok := r.Context().Value(connKey{}).(*guardedConn)
	if !ok {
		return
	}
	gc.g.mu.Lock()
	defer gc.g.mu.Unlock()
	gc.busy, gc.done = false, true
}

func newConnGuard(ln net.Listener, max int) *connGuard {
	deferAccept(ln, deferSeconds)
	return &connGuard{Listener: ln, max: max, open: map[*guardedConn]struct{}{}, byClient: map[string]int{},
		room: make(chan struct{}), done: make(chan struct{})}
}

// Accept takes the next connection; at the cap it first closes the
// oldest one still waiting for headers, or waits for one to end.
func (g *connGuard) Accept() (net.Conn, error) {
	c, err := g.Listener.Accept()
	if err != nil {
		return nil, err
	}
	gc := &guardedConn{Conn: c, g: g, client: clientKey(c.RemoteAddr().String())}
	for {
		g.mu.Lock()
		if g.perClient > 0 && g.byClient[gc.client] >= g.perClient {
			g.mu.Unlock()
			g.evicted.Add(1)
			_ = c.Close()
			if c, err = g.Listener.Accept(); err != nil {
				return nil, err
			}
			gc = &guardedConn{Conn: c, g: g, client: clientKey(c.RemoteAddr().String())}
			continue
		}
		if len(g.open) < g.max {
			g.seq++
			gc.since = g.seq
			g.open[gc] = struct{}{}
			g.byClient[gc.client]++
			g.mu.Unlock()
			return gc, nil
		}
		victim := g.oldestWaiting()
		if victim != nil {
			g.removeLocked(victim)
		}
		wait := g.room
		g.mu.Unlock()
		if victim != nil {
			g.evicted.Add(1)
			_ = victim.Conn.Close()
			continue
		}
		select {
		case <-wait:
		case <-g.done:
			_ = c.Close()
			return nil, net.ErrClosed
		}
	}
}

// oldestWaiting is the connection to close to make room, nil when every
// one is busy: one already answered and closing (answered), else, of the
// client address with the most connections waiting
// for a request's headers, the one that has waited longest. A stranger
// opening connections from one address thus closes its own, never the
// lone connection GitLab (or the kubelet) just opened; from many
// addresses (or behind one proxy) it comes down to the oldest. Called
// with g.mu held.
func (g *connGuard) oldestWaiting() *guardedConn {
	waiting := map[string]int{}
	for c := range g.open {
		if !c.busy {
			waiting[c.client]++
		}
	}
	var oldest *guardedConn
	for c := range g.open {
		if c.busy {
			continue
		}
		if c.done {
			return c
		}
		if oldest == nil || waiting[c.client] > waiting[oldest.client] ||
			(waiting[c.client] == waiting[oldest.client] && c.since < oldest.since) {
			oldest = c
		}
	}
	return oldest
}

// removeLocked forgets c and wakes an Accept waiting for room.
func (g *connGuard) removeLocked(c *guardedConn) {
	if _, ok := g.open[c]; !ok {
		return
	}
	delete(g.open, c)
	if g.byClient[c.client]--; g.byClient[c.client] <= 0 {
		delete(g.byClient, c.client)
	}
	close(g.room)
	g.room = make(chan struct{})
}

// track is the http.Server's ConnState: a connection is busy from the
// moment its request's headers are in (StateActive) until it waits for
// the next request (StateIdle), when it may be closed to make room again.
func (g *connGuard) track(c net.Conn, state http.ConnState) {
	gc, ok := c.(*guardedConn)
	if !ok {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch state {
	case http.StateActive:
		gc.busy = true
	case http.StateIdle:
		g.seq++
		gc.busy, gc.since = false, g.seq
	case http.StateHijacked, http.StateClosed:
		g.removeLocked(gc)
	}
}

// count is the connections open now (tests).
func (g *connGuard) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.open)
}

func (g *connGuard) Close() error {
	err := g.Listener.Close()
	g.closing.Do(func() { close(g.done) })
	return err
}

func (c *guardedConn) Close() error {
	err := c.Conn.Close()
	c.g.mu.Lock()
	c.g.removeLocked(c)
	c.g.mu.Unlock()
	return err
}

// clientKey is the part of a client's address that its share of a pool
// is counted under: the IP, or for IPv6 its /64 (one host's usual
// allocation, in which an attacker has addresses to spare).
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() != nil {
		return ip.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
