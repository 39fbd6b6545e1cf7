package serve

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Refusals are logged at most refusalLines a second for each outcome;
// the rest are counted in one line when the window closes.
func TestRefusalLogBounded(t *testing.T) {
	var buf logBuffer
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	l := newRefusalLog(slog.New(slog.NewJSONHandler(&buf, nil)), func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	allowed := 0
	for range 20000 {
		if l.allow(outcomeUnauthorized) {
			allowed++
		}
	}
	if !l.allow(outcomeTooLarge) {
		t.Error("another outcome was held back by the first")
	}
	if allowed != refusalLines {
		t.Errorf("%d lines allowed in one window, want %d", allowed, refusalLines)
	}
	mu.Lock()
	now = now.Add(refusalWindow)
	mu.Unlock()
	if !l.allow(outcomeUnauthorized) {
		t.Error("a new window allowed no line")
	}
	// One closing line, or a few more when the machine is so slow that the
	// window's real timer fires while the loop runs: the counts add up.
	lines := buf.lines("delivery lines not logged")
	suppressed := 0.0
	for _, l := range lines {
		n, _ := l["suppressed"].(float64)
		suppressed += n
		if l["outcome"] != outcomeUnauthorized {
			t.Errorf("summary line %v, want outcome unauthorized", l)
		}
	}
	if len(lines) == 0 || len(lines) > 5 || suppressed != float64(20000-refusalLines) {
		t.Errorf("summary lines %v, want one or a few: unauthorized, suppressed %d in all", lines, 20000-refusalLines)
	}
}

// One connection pipelining requests with a wrong secret gets one answer,
// then the connection closes: the rest are never read.
func TestRefusalClosesTheConnection(t *testing.T) {
	gl := newStandIn(t)
	h := start(t, gl, nil)
	c, err := net.Dial("tcp", strings.TrimPrefix(h.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := "POST /webhook HTTP/1.1\r\nHost: x\r\nX-Gitlab-Token: wrong\r\nX-Gitlab-Event: Merge Request Hook\r\nContent-Length: 2\r\n\r\n{}"
	if _, err := io.WriteString(c, strings.Repeat(req, 200)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	rd := bufio.NewReader(c)
	resp, err := http.ReadResponse(rd, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Errorf("answer %d, close %v: want 401 and Connection: close", resp.StatusCode, resp.Close)
	}
	if _, err := http.ReadResponse(rd, nil); err == nil {
		t.Error("a second request was answered on the connection")
	}
	if n := len(h.logs.lines("delivery")); n != 1 {
		t.Errorf("%d delivery lines, want 1", n)
	}
}
