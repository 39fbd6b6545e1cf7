// Command standin is the stand-in GitLab of the tests (internal/gitlabtest)
// as a process of its own, for the scripts that run real binaries against
// it: scripts/e2e-gitlab-ci-local.sh and bench/run.sh. It answers the merge
// request API of one project with GitLab's real response shape:
//
//	standin -addr-file addr -lifetime 10m -mr 1= -mr 2=echoes/intent/feature,echoes/effort/M -status 3=503
//
// It listens on a loopback address only, prints its API root on the first
// line of stdout (and writes host:port to -addr-file), and stops by itself
// after -lifetime. Like gitlab.com it refuses, with 401, a request without a
// token and one with a JOB-TOKEN (unless -accept-job-token). It logs each
// request's method, path, the kind of credential (never its value) and the
// status answered to stderr. GET /_count answers how many API requests it
// has served since the last GET /_reset.
//
// For echoes-labels serve it also runs merge request pipelines:
//
//	standin -mr 7=echoes/intent/x -pipeline 7=build:success,echoes-labels:failed
//
// The pipelines run before the labels are set, so the labels changed after
// the label job read them (its resource label events say so).
//
// and GET /_retries answers, as JSON, how many job retries it accepted per
// merge request IID. For bench/sweep.sh, -group-mrs makes a group of
// thousands of merge requests, -rate-limit-every answers some requests
// 429, and GET /_bench reports the calls per merge request (bench.go).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "standin:", err)
		}
		os.Exit(2)
	}
}

// config is what the command line asks for.
type config struct {
	addr, addrFile string
	lifetime       time.Duration
	acceptJobToken bool
	token          string
	project        int64
	path           string
	noise          int
	noiseFormat    string
	noiseBytes     int
	mrs            mrFlags
	statuses       statusFlags
	pipelines      pipelineFlags
	bench          benchConfig
	authors        authorFlags
	drafts         draftFlags
	projectLabels  string
}

func parse(args []string, stderr io.Writer) (*config, error) {
	c := &config{mrs: mrFlags{}, statuses: statusFlags{}, pipelines: pipelineFlags{}, authors: authorFlags{}, drafts: draftFlags{}}
	fs := flag.NewFlagSet("standin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", "127.0.0.1:0", "loopback address to listen on")
	fs.StringVar(&c.addrFile, "addr-file", "", "write the host:port listened on to this file")
	fs.DurationVar(&c.lifetime, "lifetime", 10*time.Minute, "stop after this long")
	fs.BoolVar(&c.acceptJobToken, "accept-job-token", false, "answer requests with any JOB-TOKEN (gitlab.com refuses it for merge requests: 401)")
	fs.StringVar(&c.token, "token", "", "the only PRIVATE-TOKEN accepted (empty: any, but one is required)")
	fs.Int64Var(&c.project, "project", 42, "the project's numeric id")
	fs.StringVar(&c.path, "path", "group/project", "the project's path (it answers to both)")
	fs.IntVar(&c.noise, "noise", 0, "put this many unrelated labels before each merge request's own")
	fs.IntVar(&c.noiseBytes, "noise-bytes", 0, "instead of -noise, add noise labels until their JSON would pass this many bytes (the largest answer within a body cap)")
	fs.StringVar(&c.noiseFormat, "noise-format", "team/backend/component-%d", "the noise labels, with %d or %x for their number (echoes/intnet/%x: near misses); without either, every one is this label (a proxy's answer need not be GitLab's: \"\" makes the densest list)")
	fs.Var(c.mrs, "mr", "IID=label,label: a merge request and its labels, possibly none (repeat)")
	fs.Var(c.pipelines, "pipeline", "IID=job:status,job:status: a pipeline of that merge request with these jobs, newest last (repeat)")
	fs.Var(c.statuses, "status", "IID=code: answer requests for this merge request with an HTTP error 400-599 (repeat)")
	fs.Var(c.authors, "author", "IID=username: the merge request's author (repeat)")
	fs.Var(c.drafts, "draft", "IID: the merge request is a draft (repeat)")
	fs.StringVar(&c.projectLabels, "labels", "", "label,label: the labels the project may use (GET /projects/:id/labels)")
	c.bench.register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := c.bench.check(); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := loopback(c.addr); err != nil {
		return nil, err
	}
	if c.lifetime <= 0 {
		return nil, fmt.Errorf("-lifetime %s: want a positive duration", c.lifetime)
	}
	if c.noiseBytes < 0 || c.noiseBytes > 0 && c.noise > 0 {
		return nil, fmt.Errorf("-noise-bytes %d: want 0 or more, and not with -noise", c.noiseBytes)
	}
	if c.noise < 0 {
		return nil, fmt.Errorf("-noise %d: want 0 or more", c.noise)
	}
	if n := strings.Count(c.noiseFormat, "%"); n > 1 || n == 1 && !strings.Contains(c.noiseFormat, "%d") && !strings.Contains(c.noiseFormat, "%x") {
		return nil, fmt.Errorf("-noise-format %q: want one %%d or %%x, or no %% at all", c.noiseFormat)
	}
	return c, nil
}

// loopback refuses any address but 127.0.0.0/8, ::1 and localhost: the
// stand-in must not be reachable from another machine.
func loopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-addr %q is not a loopback address; use 127.0.0.1:PORT", addr)
	}
	return nil
}

// server configures the library's stand-in as the command line says.
func (c *config) server() *gitlabtest.Server {
	srv := gitlabtest.NewUnstarted()
	srv.SetToken(c.token)
	srv.RequireToken(true)
	srv.AcceptAnyJobToken(c.acceptJobToken)
	srv.SetJobTokenRefusal(http.StatusUnauthorized)
	// The pipelines ran first, the labels came after: as when a developer
	// mends the labels once the label job failed (GitLab's label events
	// then say the labels changed after the job read them).
	for iid, pipelines := range c.pipelines {
		for _, jobs := range pipelines {
			srv.AddPipeline(c.project, c.path, iid, jobs...)
		}
	}
	for iid, labels := range c.mrs {
		ls := make([]string, 0, c.noise+len(labels))
		for i, size := 0, 0; i < c.noise || c.noiseBytes > 0; i++ {
			l := c.noiseFormat
			if strings.Contains(l, "%") {
				l = fmt.Sprintf(l, i)
			}
			if c.noiseBytes > 0 {
				quoted, _ := json.Marshal(l)
				if size += len(quoted) + 1; size > c.noiseBytes {
					break
				}
			}
			ls = append(ls, l)
		}
		srv.SetLabels(c.project, c.path, iid, append(ls, labels...)...)
	}
	for iid, code := range c.statuses {
		srv.SetStatus(c.project, c.path, iid, code)
	}
	for iid, name := range c.authors {
		srv.SetAuthor(c.project, c.path, iid, name)
	}
	for iid := range c.drafts {
		srv.SetDraft(c.project, c.path, iid, true)
	}
	var pls []gitlabtest.ProjectLabel
	for _, l := range strings.Split(c.projectLabels, ",") {
		if l = strings.TrimSpace(l); l != "" {
			pls = append(pls, gitlabtest.ProjectLabel{Name: l})
		}
	}
	srv.SetProjectLabels(c.project, c.path, pls...)
	return srv
}

// run serves until ctx is done or the lifetime is over.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := parse(args, stderr)
	if err != nil {
		return err
	}
	logger := log.New(stderr, "standin: ", log.LstdFlags)
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	srv := c.server()
	// httptest made a listener of its own: serve on the one asked for.
	_ = srv.Listener.Close()
	srv.Listener = ln
	var served atomic.Int64
	srv.Config.Handler = logged(srv.Config.Handler, logger, &served, func() map[int64]int {
		out := map[int64]int{}
		for iid := range c.mrs {
			out[iid] = srv.Retries(c.project, iid)
		}
		for iid := range c.pipelines {
			out[iid] = srv.Retries(c.project, iid)
		}
		return out
	})
	srv.Config.Handler = c.bench.setup(srv, srv.Config.Handler)
	srv.Config.ReadHeaderTimeout = 5 * time.Second
	srv.Config.ErrorLog = logger
	srv.Start()
	defer srv.Close()

	if c.addrFile != "" {
		// Written whole then renamed, so a script polling for it never
		// reads half an address.
		tmp := c.addrFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(ln.Addr().String()), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, c.addrFile); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, srv.APIURL())
	logger.Printf("listening on %s for %s", srv.APIURL(), c.lifetime)

	timer := time.NewTimer(c.lifetime)
	defer timer.Stop()
	select {
	case <-timer.C:
		logger.Printf("lifetime %s over after %d requests; stopping", c.lifetime, served.Load())
	case <-ctx.Done():
		logger.Printf("stopping after %d requests", served.Load())
	}
	return nil
}

// logged logs each request with the kind of credential it carries, never
// its value, and answers GET /_count, /_reset and /_retries itself.
func logged(next http.Handler, logger *log.Logger, served *atomic.Int64, retries func() map[int64]int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/_count":
			fmt.Fprintln(w, served.Load())
			return
		case "/_retries":
			gitlabtest.JSON(w, http.StatusOK, retries())
			return
		case "/_reset":
			served.Store(0)
			return
		}
		served.Add(1)
		auth := "no token"
		switch {
		case r.Header.Get("PRIVATE-TOKEN") != "":
			auth = "PRIVATE-TOKEN"
		case r.Header.Get("JOB-TOKEN") != "":
			auth = "JOB-TOKEN"
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		logger.Printf("%s %s (%s): %d", r.Method, r.URL.EscapedPath(), auth, sw.status)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

// parseIID is s as a merge request's IID, a positive number; ok is false
// when it is not one.
func parseIID(s string) (iid int64, ok bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// cutIID splits s, IID=value, at its first "=": the IID as parseIID reads
// it, and the value; ok is false when s is not of that form.
func cutIID(s string) (iid int64, value string, ok bool) {
	before, value, found := strings.Cut(s, "=")
	iid, ok = parseIID(before)
	return iid, value, found && ok
}

type mrFlags map[int64][]string

func (m mrFlags) String() string { return fmt.Sprint(map[int64][]string(m)) }

func (m mrFlags) Set(s string) error {
	n, labels, ok := cutIID(s)
	if !ok {
		return fmt.Errorf("want IID=label,label (labels may be empty), got %q", s)
	}
	m[n] = []string{}
	for _, l := range strings.Split(labels, ",") {
		if l = strings.TrimSpace(l); l != "" {
			m[n] = append(m[n], l)
		}
	}
	return nil
}

type statusFlags map[int64]int

func (m statusFlags) String() string { return fmt.Sprint(map[int64]int(m)) }

func (m statusFlags) Set(s string) error {
	n, code, ok := cutIID(s)
	c, err := strconv.Atoi(code)
	if !ok || err != nil || c < 400 || c > 599 {
		return fmt.Errorf("want IID=HTTP status 400-599, got %q", s)
	}
	m[n] = c
	return nil
}

// pipelineFlags are the pipelines of each merge request, oldest first.
type pipelineFlags map[int64][][]gitlabtest.Job

func (m pipelineFlags) String() string { return fmt.Sprint(map[int64][][]gitlabtest.Job(m)) }

func (m pipelineFlags) Set(s string) error {
	n, jobs, ok := cutIID(s)
	if !ok || jobs == "" {
		return fmt.Errorf("want IID=job:status,job:status, got %q", s)
	}
	var p []gitlabtest.Job
	for _, j := range strings.Split(jobs, ",") {
		name, status, ok := strings.Cut(strings.TrimSpace(j), ":")
		if !ok || name == "" || status == "" {
			return fmt.Errorf("want job:status in %q, got %q", s, j)
		}
		p = append(p, gitlabtest.Job{Name: name, Status: status})
	}
	m[n] = append(m[n], p)
	return nil
}

type authorFlags map[int64]string

func (m authorFlags) String() string { return fmt.Sprint(map[int64]string(m)) }

func (m authorFlags) Set(s string) error {
	n, name, ok := cutIID(s)
	if !ok || strings.TrimSpace(name) == "" {
		return fmt.Errorf("want IID=username, got %q", s)
	}
	m[n] = strings.TrimSpace(name)
	return nil
}

type draftFlags map[int64]bool

func (m draftFlags) String() string { return fmt.Sprint(map[int64]bool(m)) }

func (m draftFlags) Set(s string) error {
	n, ok := parseIID(s)
	if !ok {
		return fmt.Errorf("want a merge request IID, got %q", s)
	}
	m[n] = true
	return nil
}
