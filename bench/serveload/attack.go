package main

// -attack: the attacks of bench/attack.sh (issue 20, "Bounded against
// strangers"), each beside a prober that sends what GitLab would (a
// delivery with the secret token, a correctly signed status check
// request, or a probe) every 250 ms and times its answer. Every attack
// is on loopback, bounded in connections, requests and time, and stops
// by itself.
//
//	health      -conns connections to --health-listen sending partial headers, reopened when closed
//	slow        -conns connections trickling a 1 MiB body at ~50 B/s with a made-up X-Gitlab-Signature
//	busy        -conns connections sending 1 MiB bodies at 10 KiB/s (above the minimum rate), made-up signature
//	share       -conns clients sending 1 MiB chunked bodies at full speed, wrong signature (one address)
//	many        -conns connections from 32 addresses (-from and the 31 after it), each sending a 1 MiB
//	            body's first 520 KiB at once (so that it holds 1 MiB of the pool), then 10 KiB/s, made-up signature
//	idle        -conns TCP connections to --listen that send nothing, reopened when closed
//	pipeline    -conns clients sending authenticated 19 MB pipeline events (24,000 builds), back to back
//	pipelining  one connection pipelining -requests requests with a wrong X-Gitlab-Token
//
// The attackers connect from -from (127.0.0.2 by default), the prober
// from 127.0.0.1: per-address shares are what the service can tell.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type attackOptions struct {
	kind, target, webhook, health, secret, from, good string
	conns, requests                                   int
	runFor                                            time.Duration
	payload, pipelinePayload                          string
}

// goodWithin is the answer time every good delivery must beat (issue 20).
const goodWithin = 2 * time.Second

func attack(a attackOptions, stdout io.Writer) error {
	if a.conns < 1 || a.conns > 20000 || a.runFor <= 0 || a.runFor > 2*time.Minute || a.requests < 1 || a.requests > 100000 {
		return fmt.Errorf("want 0 < -conns ≤ 20000, 0 < -attack-for ≤ 2m, 0 < -requests ≤ 100000")
	}
	for _, u := range []string{a.target, a.webhook, a.health} {
		if u == "" {
			continue
		}
		if err := loopback(u); err != nil {
			return err
		}
	}
	if ip := net.ParseIP(a.from); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-from %q: want a loopback address", a.from)
	}
	ctx, cancel := context.WithTimeout(context.Background(), a.runFor)
	defer cancel()
	attacker := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(a.from)}, Timeout: 5 * time.Second}

	good, err := newProber(a)
	if err != nil {
		return err
	}
	var st attackStats
	began := time.Now()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); good.run(ctx) }()
	switch a.kind {
	case "health":
		partial := "GET /readyz HTTP/1.1\r\nHost: x\r\nX-Pad: " + strings.Repeat("a", 7000)
		holdConns(ctx, attacker, host(a.target), a.conns, partial, &st)
	case "idle":
		holdConns(ctx, attacker, host(a.target), a.conns, "", &st)
	case "slow":
		trickleBodies(ctx, []*net.Dialer{attacker}, host(a.target), a.conns, 0, 10, &st) // 50 B/s
	case "busy":
		trickleBodies(ctx, []*net.Dialer{attacker}, host(a.target), a.conns, 0, 2<<10, &st) // 10 KiB/s, above the service's minimum
	case "many":
		var from []*net.Dialer
		for i := range 32 {
			ip := net.ParseIP(a.from).To4()
			ip = net.IPv4(ip[0], ip[1], ip[2], ip[3]+byte(i))
			from = append(from, &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second})
		}
		trickleBodies(ctx, from, host(a.target), a.conns, 520<<10, 2<<10, &st)
	case "share":
		floodFrom(ctx, attacker, a.target, a.conns, &st)
	case "pipeline":
		if err := bigPipelines(ctx, a, &st); err != nil {
			return err
		}
	case "pipelining":
		pipelining(ctx, attacker, host(a.target), a.requests, a.secret, &st)
	default:
		return fmt.Errorf("-attack %q: want health, slow, busy, share, many, idle, pipeline or pipelining", a.kind)
	}
	<-ctx.Done()
	took := time.Since(began)
	wg.Wait()

	fmt.Fprintf(stdout, "attack              %s for %s: %s\n", a.kind, took.Round(time.Millisecond), st.String())
	return good.report(stdout)
}

func host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Host
}

// attackStats counts what the attack did and what it was answered.
type attackStats struct {
	dials, dialErrors, closedByServer atomic.Int64
	mu                                sync.Mutex
	answers                           map[string]int
	note                              string
}

func (s *attackStats) answer(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.answers == nil {
		s.answers = map[string]int{}
	}
	s.answers[key]++
}

func (s *attackStats) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var parts []string
	for k, n := range s.answers {
		parts = append(parts, fmt.Sprintf("%s × %d", k, n))
	}
	slices.Sort(parts)
	out := fmt.Sprintf("%d connections opened (%d failed), %d closed by the service", s.dials.Load(), s.dialErrors.Load(), s.closedByServer.Load())
	if len(parts) > 0 {
		out += "; answers " + strings.Join(parts, ", ")
	}
	if s.note != "" {
		out += "; " + s.note
	}
	return out
}

// holdConns keeps n connections open to addr, each having sent prefix
// (nothing, or a request's first header lines), reopening each one the
// service closes, until ctx ends; at most 20 n connections in all.
func holdConns(ctx context.Context, d *net.Dialer, addr string, n int, prefix string, st *attackStats) {
	var wg sync.WaitGroup
	budget := atomic.Int64{}
	budget.Store(int64(20 * n))
	sem := make(chan struct{}, 256) // dials at once
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && budget.Add(-1) >= 0 {
				sem <- struct{}{}
				c, err := d.DialContext(ctx, "tcp", addr)
				<-sem
				st.dials.Add(1)
				if err != nil {
					st.dialErrors.Add(1)
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
					continue
				}
				if prefix != "" {
					_, _ = io.WriteString(c, prefix)
				}
				closed := make(chan struct{})
				go func() {
					_, _ = io.Copy(io.Discard, c)
					close(closed)
				}()
				select {
				case <-ctx.Done():
					c.Close()
					return
				case <-closed:
					st.closedByServer.Add(1)
					c.Close()
				}
			}
		}()
	}
	wg.Wait()
}

// trickleBodies keeps n connections (from the addresses of from in turn)
// sending a 1 MiB status check request body, burst bytes at once, then
// step bytes every 200 ms, reopening each one the service cuts.
func trickleBodies(ctx context.Context, from []*net.Dialer, addr string, n, burst, step int, st *attackStats) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := from[i%len(from)]
			for tries := 0; ctx.Err() == nil && tries < 1000; tries++ {
				c, err := d.DialContext(ctx, "tcp", addr)
				st.dials.Add(1)
				if err != nil {
					st.dialErrors.Add(1)
					return
				}
				_, _ = io.WriteString(c, "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Gitlab-Signature: 00ff\r\nContent-Length: 1048576\r\n\r\n"+strings.Repeat("x", burst))
				answered := make(chan string, 1)
				go func() {
					resp, err := http.ReadResponse(bufio.NewReader(c), nil)
					if err != nil {
						answered <- "closed"
						return
					}
					resp.Body.Close()
					answered <- fmt.Sprint(resp.StatusCode)
				}()
				tick := time.NewTicker(200 * time.Millisecond)
			send:
				for {
					select {
					case <-ctx.Done():
						break send
					case a := <-answered:
						st.answer(a)
						st.closedByServer.Add(1)
						break send
					case <-tick.C:
						if _, err := c.Write(bytes.Repeat([]byte("x"), step)); err != nil {
							st.answer("write failed")
							break send
						}
					}
				}
				tick.Stop()
				c.Close()
			}
		}()
	}
	wg.Wait()
}

// floodFrom sends 1 MiB chunked bodies with a wrong signature from n
// clients at full speed, until ctx ends.
func floodFrom(ctx context.Context, d *net.Dialer, target string, n int, st *attackStats) {
	tr := &http.Transport{DialContext: d.DialContext, MaxConnsPerHost: n, MaxIdleConnsPerHost: n}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}
	postLoop(ctx, client, n, st, func() *http.Request {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, target, io.LimitReader(zeros{}, 1<<20))
		req.ContentLength = -1
		req.Header.Set("X-Gitlab-Signature", strings.Repeat("ab", 32))
		return req
	})
}

// postLoop sends the requests newReq makes from n goroutines, back to
// back, until ctx ends, and counts each answer's status (or why none came).
func postLoop(ctx context.Context, client *http.Client, n int, st *attackStats, newReq func() *http.Request) {
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				resp, err := client.Do(newReq())
				if err != nil {
					if ctx.Err() == nil {
						st.answer("no answer (" + errKind(err) + ")")
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				st.answer(fmt.Sprint(resp.StatusCode))
			}
		}()
	}
	wg.Wait()
}

// bigPipelines sends authenticated pipeline events of 24,000 builds
// (about 19 MB, GitLab's shape) from n clients, back to back.
func bigPipelines(ctx context.Context, a attackOptions, st *attackStats) error {
	ev, err := readJSON(a.pipelinePayload)
	if err != nil {
		return err
	}
	one, _ := json.Marshal(ev["builds"].([]any)[0])
	ev["builds"] = []any{}
	if mr, ok := ev["merge_request"].(map[string]any); ok {
		mr["iid"] = 1
	}
	rest, _ := json.Marshal(ev)
	parts := make([]string, 24000)
	for i := range parts {
		parts[i] = string(one)
	}
	body := []byte(strings.Replace(string(rest), `"builds":[]`, `"builds":[`+strings.Join(parts, ",")+`]`, 1))
	st.note = fmt.Sprintf("each event %.1f MB", float64(len(body))/1e6)
	tr := &http.Transport{MaxConnsPerHost: a.conns, MaxIdleConnsPerHost: a.conns}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	postLoop(ctx, client, a.conns, st, func() *http.Request {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, a.target, bytes.NewReader(body))
		req.Header.Set("X-Gitlab-Event", "Pipeline Hook")
		req.Header.Set("X-Gitlab-Token", a.secret)
		return req
	})
	return nil
}

// pipelining writes n requests with a wrong X-Gitlab-Token on one
// connection, as fast as it takes them, and counts the answers; when the
// service closes the connection, it opens another and sends the requests
// not answered yet, until n were answered or ctx ends.
func pipelining(ctx context.Context, d *net.Dialer, addr string, n int, secret string, st *attackStats) {
	req := "POST /webhook HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event: Merge Request Hook\r\nX-Gitlab-Token: wrong-" + fmt.Sprint(len(secret)) +
		"\r\nContent-Length: 2\r\n\r\n{}"
	began := time.Now()
	answers, first := 0, 0
	for ctx.Err() == nil && answers < n {
		c, err := d.DialContext(ctx, "tcp", addr)
		st.dials.Add(1)
		if err != nil {
			st.dialErrors.Add(1)
			return
		}
		stop := context.AfterFunc(ctx, func() { c.Close() })
		left := n - answers
		go func() {
			for i := 0; i < left && ctx.Err() == nil; i++ {
				if _, err := io.WriteString(c, req); err != nil {
					return
				}
			}
		}()
		rd := bufio.NewReader(c)
		here := 0
		for ctx.Err() == nil && answers < n {
			resp, err := http.ReadResponse(rd, nil)
			if err != nil {
				st.closedByServer.Add(1)
				break
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			st.answer(fmt.Sprint(resp.StatusCode))
			answers++
			here++
		}
		if st.dials.Load() == 1 {
			first = here
		}
		stop()
		c.Close()
	}
	st.note = fmt.Sprintf("%d requests pipelined, %d answered on the first connection; %d answered in all in %s", n, first, answers, time.Since(began).Round(time.Millisecond))
}

// prober sends a good request every 250 ms and times its answer.
type prober struct {
	a      attackOptions
	client *http.Client
	body   []byte
	mu     sync.Mutex
	times  []time.Duration
	bad    map[string]int
}

func newProber(a attackOptions) (*prober, error) {
	p := &prober{a: a, bad: map[string]int{},
		// GitLab gives a hook 10 s; the kubelet a probe 1 s by default.
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	if a.good == "health" {
		return p, nil
	}
	raw, err := os.ReadFile(a.payload)
	if err != nil {
		return nil, err
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		return nil, err
	}
	if a.good == "signed" {
		ev["external_approval_rule"] = map[string]any{"id": 7, "name": "echoes-labels", "external_url": "https://example.com"}
	}
	p.body, _ = json.Marshal(ev)
	return p, nil
}

func (p *prober) run(ctx context.Context) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	var wg sync.WaitGroup
	for k := 0; ; k++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var req *http.Request
			switch p.a.good {
			case "health":
				req, _ = http.NewRequest(http.MethodGet, p.a.health+"/readyz", nil)
			default:
				req, _ = http.NewRequest(http.MethodPost, p.a.webhook, bytes.NewReader(p.body))
				req.Header.Set("Content-Type", "application/json")
				if p.a.good == "signed" {
					mac := hmac.New(sha256.New, []byte(p.a.secret))
					mac.Write(p.body)
					req.Header.Set("X-Gitlab-Signature", hex.EncodeToString(mac.Sum(nil)))
				} else {
					req.Header.Set("X-Gitlab-Event", "Merge Request Hook")
					req.Header.Set("X-Gitlab-Token", p.a.secret)
					req.Header.Set("Idempotency-Key", fmt.Sprintf("attack-good-%d", k))
				}
			}
			start := time.Now()
			resp, err := p.client.Do(req)
			took := time.Since(start)
			key := ""
			if err != nil {
				key = "no answer in 10 s (" + errKind(err) + ")"
			} else {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					key = fmt.Sprint(resp.StatusCode)
				}
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			p.times = append(p.times, took)
			if key != "" {
				p.bad[key]++
			}
		}()
	}
}

func (p *prober) report(stdout io.Writer) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	what := map[string]string{"health": "GET /readyz on --health-listen", "signed": "signed status check requests", "hook": "deliveries with the secret token"}[p.a.good]
	if len(p.times) == 0 {
		return fmt.Errorf("FAIL: no %s were sent", what)
	}
	sorted := slices.Clone(p.times)
	slices.Sort(sorted)
	late := 0
	for _, d := range sorted {
		if d >= goodWithin {
			late++
		}
	}
	var bad []string
	for k, n := range p.bad {
		bad = append(bad, fmt.Sprintf("%s × %d", k, n))
	}
	slices.Sort(bad)
	fmt.Fprintf(stdout, "good                %d %s: p50 %s  max %s; ≥ 2 s: %d; not 2xx: %s\n", len(sorted), what,
		ms(sorted[len(sorted)/2]), ms(sorted[len(sorted)-1]), late, cmpOr(strings.Join(bad, ", "), "none"))
	failed := 0
	for _, n := range p.bad {
		failed += n
	}
	if late > 0 || failed > 0 {
		return fmt.Errorf("FAIL: of %d good requests, %d answered in 2 s or more, %d not answered 2xx", len(sorted), late, failed)
	}
	return nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
