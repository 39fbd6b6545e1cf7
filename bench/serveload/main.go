// Command serveload is the load of bench/serve.sh: it sends merge request
// and job webhook deliveries to a running `echoes-labels serve` at a steady
// rate, times every answer, waits for the service to finish, and checks
// against the stand-in GitLab that each failed label job whose labels now
// pass was retried exactly once and no other job was. With -flood it is
// instead an unauthenticated flood: -clients concurrent clients sending
// big bodies with a wrong X-Gitlab-Signature, for -flood-for or
// -flood-max requests, whichever ends first; it prints the answers by
// status.
//
//	serveload -standin-args -mrs 200          # the stand-in's flags, one a line
//	serveload -webhook URL -metrics URL -standin ROOT -secret S -mrs 200 -deliveries 2000 -duration 10s
//	serveload -flood -webhook URL -clients 64 -flood-bytes 8388608 -flood-for 12s
//	serveload -sweep-report ROOT [-strict=false]   # bench/sweep.sh's figures and gates
//	serveload -attack idle -target URL -webhook URL -secret S -conns 4000   # bench/attack.sh (attack.go)
//
// Deliveries are GitLab's: a Merge Request Hook (the merge request event)
// or a Job Hook (the label job's end, in GitLab's shape: object_kind
// build, ref refs/merge-requests/IID/head), two in five a Job Hook; each
// with an Idempotency-Key (repeated when GitLab sends a delivery again)
// and a new X-Gitlab-Webhook-UUID per request. -iid-offset moves the
// merge requests to OFFSET+1 … OFFSET+mrs, so that two loads can run
// against one stand-in.
//
// The merge requests come in three kinds (iid mod 4): 0 and 1 have a failed
// label job and get their labels late (a first burst without them, a second
// with them): each must be retried once; 2 have a failed label job and
// labels that never pass: never retried; 3 pass and their job passed:
// never retried. Each merge request gets two bursts of deliveries, and
// every tenth delivery repeats the one before it (GitLab sending twice).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	jobName = "echoes-labels"
	passing = "echoes/intent/feature"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "serveload:", err)
		os.Exit(1)
	}
}

type options struct {
	standinArgs                      bool
	webhook, metrics, standin        string
	secret, payload, jobPayload      string
	path, gate, id                   string
	project                          int64
	mrs, deliveries, burst, inFlight int
	iidOffset                        int
	duration, settle                 time.Duration

	sweepReport string
	maxReads    int
	strict      bool

	flood                         bool
	clients, floodMax, floodBytes int
	floodFor                      time.Duration

	attack attackOptions
}

func run(args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("serveload", flag.ContinueOnError)
	fs.BoolVar(&o.standinArgs, "standin-args", false, "print the stand-in's -mr and -pipeline flags for -mrs merge requests, one a line, and exit")
	fs.StringVar(&o.webhook, "webhook", "", "the service's POST /webhook URL (loopback)")
	fs.StringVar(&o.metrics, "metrics", "", "the service's GET /metrics URL (loopback)")
	fs.StringVar(&o.standin, "standin", "", "the stand-in's root URL, for GET /_retries (loopback)")
	fs.StringVar(&o.secret, "secret", "", "the webhook secret")
	fs.StringVar(&o.payload, "payload", "serve/testdata/merge_request_event.json", "a real merge request event to send, edited per merge request")
	fs.StringVar(&o.jobPayload, "job-payload", "serve/testdata/job_event.json", "a real job event to send, edited per merge request")
	fs.StringVar(&o.gate, "gate", "every", "every: fail when any answer takes 1 s or more; p99: when the 99th percentile does (under a flood)")
	fs.StringVar(&o.id, "id", "bench", "prefix of each delivery's Idempotency-Key")
	fs.IntVar(&o.iidOffset, "iid-offset", 0, "the merge requests are OFFSET+1 … OFFSET+mrs")
	fs.StringVar(&o.sweepReport, "sweep-report", "", "report and gate a sweep from the stand-in at this root URL (GET /_bench), and exit (bench/sweep.sh)")
	fs.IntVar(&o.maxReads, "max-reads", 4, "-sweep-report: reads of one merge request at most")
	fs.BoolVar(&o.strict, "strict", true, "-sweep-report: gate the reads per merge request (off under a rate limit, whose refused calls come again)")
	fs.BoolVar(&o.flood, "flood", false, "be the unauthenticated flood instead (-webhook, -clients, -flood-*)")
	fs.IntVar(&o.clients, "clients", 64, "flood: concurrent clients")
	fs.IntVar(&o.floodBytes, "flood-bytes", 8<<20, "flood: each body's size (half the clients send a Content-Length, half send chunked)")
	fs.IntVar(&o.floodMax, "flood-max", 20000, "flood: requests in all at most (at most 1,000,000)")
	fs.DurationVar(&o.floodFor, "flood-for", 12*time.Second, "flood: stop sending after this long (at most 5m)")
	fs.StringVar(&o.path, "path", "group/project", "the project's path")
	fs.Int64Var(&o.project, "project", 42, "the project's id")
	fs.IntVar(&o.mrs, "mrs", 200, "merge requests")
	fs.IntVar(&o.deliveries, "deliveries", 2000, "deliveries in all (at most 100,000)")
	fs.IntVar(&o.burst, "burst", 5, "consecutive deliveries for one merge request")
	fs.IntVar(&o.inFlight, "in-flight", 256, "requests open at once at most")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "spread the deliveries over this long (at most 5m)")
	fs.DurationVar(&o.settle, "settle", 60*time.Second, "wait at most this long for the service to finish its work")
	fs.StringVar(&o.attack.kind, "attack", "", "be one of bench/attack.sh's attacks instead (see attack.go): health, slow, busy, share, idle, pipeline, pipelining")
	fs.StringVar(&o.attack.target, "target", "", "attack: the URL attacked (loopback)")
	fs.StringVar(&o.attack.health, "health", "", "attack: the root of --health-listen, for -good health (loopback)")
	fs.StringVar(&o.attack.from, "from", "127.0.0.2", "attack: the loopback address the attack comes from")
	fs.StringVar(&o.attack.good, "good", "hook", "attack: what is sent beside it every 250 ms: hook (the secret token), signed (a status check request), health")
	fs.IntVar(&o.attack.conns, "conns", 16, "attack: connections or clients")
	fs.IntVar(&o.attack.requests, "requests", 20000, "attack pipelining: requests on the one connection")
	fs.DurationVar(&o.attack.runFor, "attack-for", 10*time.Second, "attack: how long (at most 2m)")
	fs.StringVar(&o.attack.pipelinePayload, "pipeline-payload", "serve/testdata/pipeline_event.json", "attack pipeline: a real pipeline event, its first build repeated 24,000 times")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.attack.kind != "" {
		o.attack.webhook, o.attack.secret, o.attack.payload = o.webhook, o.secret, o.payload
		return attack(o.attack, stdout)
	}
	if o.sweepReport != "" {
		if err := loopback(o.sweepReport); err != nil {
			return err
		}
		return sweepReport(o.sweepReport, o.maxReads, o.strict, stdout)
	}
	if o.flood {
		if o.clients <= 0 || o.clients > 1024 || o.floodBytes <= 0 || o.floodBytes > 64<<20 || o.floodMax <= 0 || o.floodMax > 1_000_000 ||
			o.floodFor <= 0 || o.floodFor > 5*time.Minute {
			return fmt.Errorf("want 0 < -clients ≤ 1024, 0 < -flood-bytes ≤ 64 MiB, 0 < -flood-max ≤ 1000000, 0 < -flood-for ≤ 5m")
		}
		if err := loopback(o.webhook); err != nil {
			return err
		}
		return flood(o, stdout)
	}
	if o.gate != "every" && o.gate != "p99" {
		return fmt.Errorf("-gate %q: want every or p99", o.gate)
	}
	if o.iidOffset < 0 {
		return fmt.Errorf("-iid-offset %d: want 0 or more", o.iidOffset)
	}
	if o.mrs <= 0 || o.deliveries <= 0 || o.deliveries > 100_000 || o.burst <= 0 || o.duration <= 0 || o.duration > 5*time.Minute {
		return fmt.Errorf("want -mrs > 0, 0 < -deliveries ≤ 100000, -burst > 0, 0 < -duration ≤ 5m")
	}
	if o.standinArgs {
		for iid := 1; iid <= o.mrs; iid++ {
			labels := ""
			if kind(iid) != 2 {
				labels = passing
			}
			status := "failed"
			if kind(iid) == 3 {
				status = "success"
			}
			n := iid + o.iidOffset
			fmt.Fprintf(stdout, "-mr\n%d=%s\n-pipeline\n%d=build:success,%s:%s\n", n, labels, n, jobName, status)
		}
		return nil
	}
	for _, u := range []string{o.webhook, o.metrics, o.standin} {
		if err := loopback(u); err != nil {
			return err
		}
	}
	return load(o, stdout)
}

// kind is the merge request's kind, see the package comment.
func kind(iid int) int {
	if iid%4 == 1 {
		return 0
	}
	return iid % 4
}

// loopback refuses any URL whose host is not on this machine.
func loopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not a URL", raw)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%q is not on the loopback interface", raw)
	}
	return nil
}

// delivery k: bursts of o.burst deliveries for one merge request, the
// merge requests visited in a scrambled order, twice; every tenth delivery
// repeats the previous one's id and body.
func (o options) target(k int) (iid int, second bool) {
	b := k / o.burst
	iid = (b*37)%o.mrs + 1
	second = b >= (o.deliveries/o.burst+1)/2
	return iid, second
}

// isJob says whether delivery k is a Job Hook: two in five.
func isJob(k int) bool { return k%5 == 2 || k%5 == 4 }

func readJSON(path string) (map[string]any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(raw, &m)
}

func load(o options, stdout io.Writer) error {
	tmpl, err := readJSON(o.payload)
	if err != nil {
		return err
	}
	jobTmpl, err := readJSON(o.jobPayload)
	if err != nil {
		return err
	}
	// body is the event of delivery k for merge request iid (1 … mrs; the
	// stand-in's is iid + offset).
	body := func(iid int, second bool, k int) []byte {
		n := iid + o.iidOffset
		if isJob(k) {
			ev := clone(jobTmpl)
			status := "failed"
			if kind(iid) == 3 {
				status = "success"
			}
			ev["object_kind"], ev["build_name"], ev["build_status"] = "build", jobName, status
			ev["build_stage"], ev["build_failure_reason"] = "test", "script_failure"
			ev["ref"] = fmt.Sprintf("refs/merge-requests/%d/head", n)
			ev["build_id"], ev["pipeline_id"] = 100000+k, 100+n
			ev["project_id"], ev["project_name"] = o.project, o.path
			ev["project"] = map[string]any{"id": o.project, "name": "project", "path_with_namespace": o.path,
				"web_url": "https://gitlab.example.com/" + o.path}
			b, _ := json.Marshal(ev)
			return b
		}
		ev := clone(tmpl)
		labels := []any{map[string]any{"id": 1, "title": "backend", "color": "#fff", "project_id": o.project, "type": "ProjectLabel"}}
		if kind(iid) == 3 || (kind(iid) <= 1 && second) {
			labels = append(labels, map[string]any{"id": 2, "title": passing, "color": "#fff", "project_id": o.project, "type": "ProjectLabel"})
		}
		ev["labels"] = labels
		p := ev["project"].(map[string]any)
		p["id"], p["path_with_namespace"] = o.project, o.path
		a := ev["object_attributes"].(map[string]any)
		a["iid"], a["labels"], a["target_project_id"] = n, labels, o.project
		a["updated_at"] = fmt.Sprintf("2026-11-27 10:00:%02d.%06d UTC", k/10000%60, k%10000)
		b, _ := json.Marshal(ev)
		return b
	}

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: o.inFlight, MaxConnsPerHost: o.inFlight}}
	lat := make([]time.Duration, o.deliveries)
	codes := make([]int, o.deliveries)
	sem := make(chan struct{}, o.inFlight)
	var wg sync.WaitGroup
	interval := o.duration / time.Duration(o.deliveries)
	began := time.Now()
	var prev []byte
	var prevID, prevEvent string
	jobs := 0
	for k := range o.deliveries {
		if wait := time.Until(began.Add(time.Duration(k) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		iid, second := o.target(k)
		b, id, event := body(iid, second, k), fmt.Sprintf("%s-%d", o.id, k), "Merge Request Hook"
		if isJob(k) {
			event = "Job Hook"
		}
		if k%10 == 9 && prev != nil {
			// GitLab sending a delivery again: the same Idempotency-Key.
			b, id, event = prev, prevID, prevEvent
		}
		prev, prevID, prevEvent = b, id, event
		if event == "Job Hook" {
			jobs++
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			req, _ := http.NewRequest(http.MethodPost, o.webhook, bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Gitlab-Event", event)
			req.Header.Set("X-Gitlab-Token", o.secret)
			req.Header.Set("Idempotency-Key", id)
			req.Header.Set("X-Gitlab-Webhook-UUID", uuid())
			req.Header.Set("X-Gitlab-Event-UUID", id+"-event")
			start := time.Now()
			resp, err := client.Do(req)
			lat[k] = time.Since(start)
			if err != nil {
				codes[k] = -1
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[k] = resp.StatusCode
		}()
	}
	wg.Wait()
	sent := time.Since(began)

	settled, err := settle(o.metrics, o.settle)
	if err != nil {
		return err
	}
	server, err := answerBuckets(o.metrics)
	if err != nil {
		return err
	}
	retries, err := fetchRetries(o.standin)
	if err != nil {
		return err
	}

	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	pct := func(p float64) time.Duration { return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))] }
	not202, slow := 0, 0
	for k := range codes {
		if codes[k] != http.StatusAccepted {
			not202++
		}
		if lat[k] >= time.Second {
			slow++
		}
	}
	var rt retryTally
	for iid := 1; iid <= o.mrs; iid++ {
		rt.add(kind(iid) <= 1, retries[strconv.Itoa(iid+o.iidOffset)])
	}
	fmt.Fprintf(stdout, "deliveries          %d in %s to %d merge requests (%d Job Hook, the rest Merge Request Hook; bursts of %d, every 10th a duplicate)\n",
		o.deliveries, sent.Round(time.Millisecond), o.mrs, jobs, o.burst)
	target := "every one < 1 s"
	if o.gate == "p99" {
		target = "p99 < 1 s"
	}
	fmt.Fprintf(stdout, "answer time         p50 %s  p99 %s  max %s  (target: %s)\n", ms(pct(0.50)), ms(pct(0.99)), ms(sorted[len(sorted)-1]), target)
	fmt.Fprintf(stdout, "answers not 202     %d;  answers ≥ 1 s: %d\n", not202, slow)
	fmt.Fprintf(stdout, "in the service      %s (echoes_serve_webhook_answer_seconds since start, every answer counted: headers read to answer written)\n", server)
	fmt.Fprintf(stdout, "work done           %s after the last delivery\n", settled.Round(time.Millisecond))
	fmt.Fprintf(stdout, "label jobs retried  %d of %d exactly once, %d more than once, %d that should not have been\n", rt.once, rt.want, rt.twice, rt.wrong)
	late := slow > 0
	if o.gate == "p99" {
		late = pct(0.99) >= time.Second
	}
	if not202 > 0 || late || !rt.right() {
		return fmt.Errorf("FAIL: targets missed")
	}
	return nil
}

// uuid is a random version 4 UUID, as X-Gitlab-Webhook-UUID is.
func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// flood sends, from o.clients clients at once, bodies of o.floodBytes
// with a made-up X-Gitlab-Signature and no X-Gitlab-Token (a forged status
// check request), until o.floodFor has passed or o.floodMax were sent, and
// prints the answers by status. Half the clients give a Content-Length,
// half send chunked, so that both of the service's paths are taken: a
// length past the cap is refused before any byte is read; a chunked body
// is read into the pool up to the cap.
func flood(o options, stdout io.Writer) error {
	tr := &http.Transport{MaxConnsPerHost: o.clients, MaxIdleConnsPerHost: o.clients}
	client := &http.Client{Timeout: 20 * time.Second, Transport: tr}
	defer tr.CloseIdleConnections()
	var sent atomic.Int64
	var mu sync.Mutex
	counts := map[string]int{}
	var slowest time.Duration
	deadline := time.Now().Add(o.floodFor)
	began := time.Now()
	var wg sync.WaitGroup
	for c := range o.clients {
		chunked := c%2 == 1
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && sent.Add(1) <= int64(o.floodMax) {
				sig := make([]byte, 32)
				_, _ = rand.Read(sig)
				req, _ := http.NewRequest(http.MethodPost, o.webhook, io.LimitReader(zeros{}, int64(o.floodBytes)))
				req.ContentLength = int64(o.floodBytes)
				mode := "Content-Length"
				if chunked {
					req.ContentLength, mode = -1, "chunked"
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Gitlab-Signature", hex.EncodeToString(sig))
				start := time.Now()
				resp, err := client.Do(req)
				took := time.Since(start)
				key := ""
				if err != nil {
					key = mode + ": no answer (" + errKind(err) + ")"
				} else {
					_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
					resp.Body.Close()
					key = fmt.Sprintf("%s: %d", mode, resp.StatusCode)
				}
				mu.Lock()
				counts[key]++
				slowest = max(slowest, took)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	total := 0
	keys := make([]string, 0, len(counts))
	for k, n := range counts {
		keys = append(keys, k)
		total += n
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s × %d", k, counts[k]))
	}
	fmt.Fprintf(stdout, "flood               %d requests of %.0f MiB with a wrong X-Gitlab-Signature from %d clients in %s; slowest answer %s\n",
		total, float64(o.floodBytes)/(1<<20), o.clients, time.Since(began).Round(time.Millisecond), ms(slowest))
	fmt.Fprintf(stdout, "flood answers       %s\n", strings.Join(parts, ", "))
	return nil
}

// errKind names a transport error without its addresses.
func errKind(err error) string {
	s := err.Error()
	for _, k := range []string{"connection reset by peer", "broken pipe", "EOF", "timeout", "refused"} {
		if strings.Contains(s, k) {
			return k
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	return "other"
}

// zeros is an endless body that allocates nothing: '0' bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// settle waits until the queue is empty and the count of tasks handled
// stops moving, and returns how long that took.
func settle(metrics string, limit time.Duration) (time.Duration, error) {
	began := time.Now()
	last, stable := -1.0, 0
	for time.Since(began) < limit {
		depth, handled, err := scrape(metrics)
		if err != nil {
			return 0, err
		}
		if depth == 0 && handled == last {
			stable++
			if stable >= 5 {
				return time.Since(began) - 5*50*time.Millisecond, nil
			}
		} else {
			stable = 0
		}
		last = handled
		time.Sleep(50 * time.Millisecond)
	}
	return 0, fmt.Errorf("the service was still busy %s after the last delivery", limit)
}

func scrape(u string) (depth, handled float64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		v, _ := strconv.ParseFloat(value, 64)
		switch {
		case name == "echoes_serve_queue_depth":
			depth = v
		case strings.HasPrefix(name, "echoes_serve_processing_seconds_count"):
			handled += v
		}
	}
	return depth, handled, sc.Err()
}

func fetchRetries(root string) (map[string]int, error) {
	resp, err := http.Get(strings.TrimRight(root, "/") + "/_retries")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]int{}
	return out, json.NewDecoder(resp.Body).Decode(&out)
}

// answerBuckets summarises the service's own answer-time histogram: how
// many answers fell under each bound, so that the client's view (which
// includes the load generator's own scheduling) can be told from the
// service's.
func answerBuckets(u string) (string, error) {
	resp, err := http.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var total float64
	var parts []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "echoes_serve_webhook_answer_seconds_bucket{le=") {
			continue
		}
		le, rest, _ := strings.Cut(strings.TrimPrefix(line, "echoes_serve_webhook_answer_seconds_bucket{le=\""), "\"}")
		n, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if le == "+Inf" {
			total = n
			continue
		}
		if le == "0.001" || le == "0.01" || le == "0.1" || le == "1" {
			parts = append(parts, fmt.Sprintf("≤ %s s: %.0f", le, n))
		}
	}
	return fmt.Sprintf("%s of %.0f", strings.Join(parts, ", "), total), sc.Err()
}
