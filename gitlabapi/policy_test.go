package gitlabapi

import (
	"gitlab.com/echoeshq/echoes-labels/exit"

	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

// client-go's Labels is a plain []string: an empty list is a list, and the
// check must see it as "no labels", not as a malformed answer.
func TestEmptyListOfLabelsIsALabelList(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gitlabtest.JSON(w, 200, map[string]any{"iid": 2, "labels": []string{}})
	}))
	defer srv.Close()
	c, _ := newClient(t, srv.URL)
	mr, err := c.MergeRequest(ctx(t), "1", 2)
	if err != nil || mr.Labels == nil || len(mr.Labels) != 0 {
		t.Fatalf("got %+v, %v; want an empty, non-nil list of labels", mr, err)
	}
}

// client-go turns every 404 into ErrNotFound; the body the recorder kept
// still tells the two causes apart.
func TestNotFoundKeepsGitLabsMessage(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(1, "g/p", 2, "echoes/intent/x")
	c, _ := newClient(t, srv.APIURL())
	for _, tt := range []struct {
		project string
		iid     int64
		message string
	}{{"other/project", 2, "Project Not Found"}, {"g/p", 3, ""}} { // "Not found" only repeats the status
		_, err := c.MergeRequest(ctx(t), tt.project, tt.iid)
		var e *Error
		if !errors.As(err, &e) || e.Kind != Status || e.Status != 404 || e.Message != tt.message {
			t.Errorf("%s !%d: err = %#v, want 404 with message %q", tt.project, tt.iid, err, tt.message)
		}
	}
	_, err := c.OpenMergeRequestsFrom(ctx(t), "missing", "topic")
	var e *Error
	if !errors.As(err, &e) || e.Message != "Project Not Found" || e.Path != "/projects/missing/merge_requests" {
		t.Errorf("list: err = %#v", err)
	}
}

// A --gitlab-url that is not GitLab's API root answers a 404 that is not
// GitLab's JSON: that is not "merge request !2 does not exist", and the
// error names the URL that answered, without its query or the token.
func TestNotFoundThatIsNotGitLabsNamesTheURL(t *testing.T) {
	for name, answer := range map[string]func(w http.ResponseWriter){
		"html page": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(404)
			fmt.Fprint(w, "<html><body>Page not found</body></html>")
		},
		"plain text": func(w http.ResponseWriter) { http.NotFound(w, nil) },
		"other JSON": func(w http.ResponseWriter) { gitlabtest.JSON(w, 404, map[string]string{"detail": "not found"}) },
		"empty":      func(w http.ResponseWriter) { w.WriteHeader(404) },
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { answer(w) }))
			defer srv.Close()
			c, _ := newClient(t, srv.URL+"/wrong")
			_, err := c.OpenMergeRequestsFrom(ctx(t), "g/p", "topic")
			var e *Error
			if !errors.As(err, &e) || e.Kind != Malformed || e.Status != 404 {
				t.Fatalf("err = %#v, want Malformed 404", err)
			}
			want := srv.URL + "/wrong/api/v4/projects/g%2Fp/merge_requests"
			if e.URL != want || !strings.Contains(err.Error(), want) {
				t.Errorf("URL = %q, text %q; want %s", e.URL, err.Error(), want)
			}
			if strings.Contains(err.Error(), "topic") || strings.Contains(err.Error(), token) {
				t.Errorf("the error repeats the query or the token: %v", err)
			}
		})
	}
}

func TestWritesAreNotRetried(t *testing.T) {
	for _, status := range []int{502, 503, 429} {
		srv := gitlabtest.New(t)
		srv.SetLabels(1, "g/p", 2, "echoes/intent/x")
		srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
			w.Header().Set("Retry-After", "0")
			gitlabtest.Error(w, status, http.StatusText(status))
			return true
		})
		c, waits := newClient(t, srv.APIURL())
		if _, err := c.CreateNote(ctx(t), "g/p", 2, "hello"); err == nil {
			t.Fatalf("%d: no error", status)
		}
		if _, err := c.UpdateNote(ctx(t), "g/p", 2, 5, "hello"); err == nil {
			t.Fatalf("%d: no error", status)
		}
		if srv.Count() != 2 || len(*waits) != 0 {
			t.Errorf("%d: %d requests and waits %v for one POST and one PUT: a write was retried", status, srv.Count(), *waits)
		}
	}
}

// A refused connection cannot have reached GitLab: a write is retried then.
func TestWriteIsRetriedAfterADialError(t *testing.T) {
	addr := gitlabtest.ClosedAddr(t)
	c, waits := newClient(t, "http://"+addr)
	_, err := c.CreateNote(ctx(t), "g/p", 2, "hello")
	var e *Error
	if !errors.As(err, &e) || e.Kind != Unreachable || e.Method != "POST" {
		t.Fatalf("err = %#v, want Unreachable", err)
	}
	if len(*waits) != 4 || len(c.Attempts()) != 5 {
		t.Errorf("waits %v, %d attempts: want 4 retries of a refused connection", *waits, len(c.Attempts()))
	}
}

func TestRetryAfterAsAnHTTPDate(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(1, "g/p", 2, "echoes/intent/x")
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n > 1 {
			return false
		}
		w.Header().Set("Retry-After", time.Now().Add(5*time.Second).UTC().Format(http.TimeFormat))
		gitlabtest.Error(w, 503, "503 Service Unavailable")
		return true
	})
	c, waits := newClient(t, srv.APIURL())
	if _, err := c.MergeRequest(ctx(t), "1", 2); err != nil {
		t.Fatal(err)
	}
	if len(*waits) != 1 || (*waits)[0] < 3*time.Second || (*waits)[0] > 5*time.Second {
		t.Errorf("waits = %v, want about 5s as the date asks", *waits)
	}
}

// MaxRetryWait caps every wait, Retry-After included: the cli tests set it
// so that a retry takes a millisecond.
func TestMaxRetryWaitCapsEveryWait(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(1, "g/p", 2, "echoes/intent/x")
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch n {
		case 1:
			w.Header().Set("Retry-After", "5")
			gitlabtest.Error(w, 429, "Retry later")
		case 2:
			w.WriteHeader(502)
		default:
			return false
		}
		return true
	})
	c, waits := newClient(t, srv.APIURL(), func(c *Config) { c.MaxRetryWait = time.Millisecond })
	if _, err := c.MergeRequest(ctx(t), "1", 2); err != nil {
		t.Fatal(err)
	}
	if len(*waits) != 2 || (*waits)[0] != time.Millisecond || (*waits)[1] != time.Millisecond {
		t.Errorf("waits = %v, want two of 1ms", *waits)
	}
}

// The body cap: an answer past 4 MiB is Malformed, not read to the end,
// and one just within it is read.
func TestAnswerPastTheBodyCapIsMalformed(t *testing.T) {
	const head, tail = `{"iid":2,"labels":["`, `"]}`
	answer := func(sent *int64, pad int64) *Client {
		transport := roundTripper(func(r *http.Request) (*http.Response, error) {
			body := io.MultiReader(strings.NewReader(head), &countingZeros{n: sent, left: pad}, strings.NewReader(tail))
			return &http.Response{StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
				Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(body), Request: r}, nil
		})
		c, _ := newClient(t, "https://gitlab.example.com", func(c *Config) { c.transport = transport })
		return c
	}

	var sent int64
	_, err := answer(&sent, maxBody+1<<20).MergeRequest(ctx(t), "1", 2)
	var e *Error
	if !errors.As(err, &e) || e.Kind != Malformed || !strings.Contains(e.Error(), "answered with more than 4 MiB") {
		t.Fatalf("err = %#v, want Malformed past 4 MiB", err)
	}
	if sent > maxBody+64<<10 {
		t.Errorf("read %d bytes of the answer, want the reading stopped at the cap", sent)
	}

	within := int64(maxBody - len(head) - len(tail))
	mr, err := answer(&sent, within).MergeRequest(ctx(t), "1", 2)
	if err != nil || len(mr.Labels) != 1 || int64(len(mr.Labels[0])) != within {
		t.Fatalf("an answer of exactly 4 MiB: err = %v, want it read", err)
	}
	// The cap bounds what is read (at most one byte past it), not what
	// encoding/json accepts: a value completed by that byte is decoded.
	if _, err := answer(&sent, within+64).MergeRequest(ctx(t), "1", 2); !errors.As(err, &e) || e.Kind != Malformed {
		t.Fatalf("an answer 64 bytes past 4 MiB: err = %v, want Malformed", err)
	}
}

type countingZeros struct {
	n    *int64
	left int64
}

func (z *countingZeros) Read(p []byte) (int, error) {
	if z.left <= 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), z.left)
	for i := range p[:n] {
		p[i] = 'a'
	}
	z.left -= n
	*z.n += n
	return int(n), nil
}

func TestCAFileMustBeARegularFileOfBoundedSize(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, bytes.Repeat([]byte("#"), maxCAFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{fifo: "a FIFO", dir: "a directory", os.DevNull: "a device", big: "larger than 1 MiB"} {
		done := make(chan error, 1)
		go func() {
			_, err := New(Config{BaseURL: "https://gitlab.example.com", CAFile: path})
			done <- err
		}()
		select {
		case err := <-done:
			var ce *exit.Error
			if !errors.As(err, &ce) || !strings.Contains(ce.Cause, want) || !strings.Contains(ce.Cause, "--ca-file") {
				t.Errorf("%s: err = %v, want a ConfigError saying %q", path, err, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: New hangs reading the CA file", path)
		}
	}
}

// The configured client-go client serves calls beyond ours (the serve
// command's), with the same policy and errors through Call; client-go's
// rate limiter adds no request and no wait.
func TestCallThroughTheConfiguredClient(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("RateLimit-Limit", "60")
		if n == 1 {
			w.WriteHeader(502)
			return true
		}
		return false
	})
	c, waits := newClient(t, srv.APIURL())
	_, err := Call(ctx(t), c, func(o ...gitlab.RequestOptionFunc) (*gitlab.Project, *gitlab.Response, error) {
		return c.gl.Projects.GetProject("g/p", nil, o...)
	})
	var e *Error
	if !errors.As(err, &e) || e.Kind != Status || e.Status != 404 || e.Path != "/projects/g%2Fp" {
		t.Fatalf("err = %#v, want the stand-in's 404", err)
	}
	if srv.Count() != 2 || len(*waits) != 1 {
		t.Errorf("%d requests, waits %v: want the 502 retried once", srv.Count(), *waits)
	}
	srv.SetLabels(1, "g/p", 2, "echoes/intent/x")
	for range 3 {
		if _, err := c.MergeRequest(ctx(t), "g/p", 2); err != nil {
			t.Fatal(err)
		}
	}
	if srv.Count() != 5 {
		t.Errorf("%d requests, want exactly one per call", srv.Count())
	}
}

// The trace holds method, path and status, never the query: the branch
// name and paging stay out of the log's details.
func TestAttemptsHoldNoQuery(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(1, "g/p", 2, "echoes/intent/x")
	c, _ := newClient(t, srv.APIURL())
	if _, err := c.OpenMergeRequestsFrom(ctx(t), "g/p", "secret-branch"); err != nil {
		t.Fatal(err)
	}
	if q := srv.Requests()[0].Query; q.Get("source_branch") != "secret-branch" || q.Get("state") != "opened" {
		t.Fatalf("query = %v", q)
	}
	a := c.Attempts()
	if len(a) != 1 || a[0].Method != "GET" || a[0].Path != "/api/v4/projects/g%2Fp/merge_requests" || a[0].Status != 200 {
		t.Fatalf("attempts = %+v", a)
	}
	if strings.Contains(fmt.Sprintf("%+v", a), "secret-branch") {
		t.Errorf("an attempt records the query: %+v", a)
	}
}

// Concurrent calls on one client (the serve command's) keep their errors
// apart: each names its own path and status.
func TestConcurrentCallsKeepTheirOwnErrors(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(1, "g/p", 2, "echoes/intent/x")
	c, _ := newClient(t, srv.APIURL())
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			project, want := "g/p", ""
			if i%2 == 0 {
				project, want = fmt.Sprintf("missing%d", i), "Project Not Found"
			}
			_, err := c.MergeRequest(context.Background(), project, 3)
			var e *Error
			if !errors.As(err, &e) || e.Message != want || !strings.Contains(e.Path, gitlab.PathEscape(project)) {
				t.Errorf("%s: err = %#v, want %q", project, err, want)
			}
		}()
	}
	wg.Wait()
}

// Exec serves the calls that return no value, with the same errors.
func TestExecExplainsItsError(t *testing.T) {
	srv := gitlabtest.New(t)
	c, _ := newClient(t, srv.APIURL())
	err := Exec(ctx(t), c, func(o ...gitlab.RequestOptionFunc) (*gitlab.Response, error) {
		return c.gl.Projects.DeleteProject("g/p", nil, o...)
	})
	var e *Error
	if !errors.As(err, &e) || e.Kind != Status || e.Status != 404 || e.Method != "DELETE" || e.Attempts != 1 {
		t.Fatalf("err = %#v, want the stand-in's 404 to DELETE", err)
	}
}

// The trace of a long-lived client (serve's) stays bounded.
func TestTraceIsBounded(t *testing.T) {
	c, _ := newClient(t, "https://gitlab.example.com")
	for i := range 2500 {
		c.trace(Attempt{Method: "GET", Path: fmt.Sprint(i)})
	}
	a := c.Attempts()
	if len(a) > maxTraced || a[len(a)-1].Path != "2499" {
		t.Fatalf("%d attempts, last %+v", len(a), a[len(a)-1])
	}
}

// A redirect from https to http on the same host would send the token in
// clear: refused, and not retried.
func TestRedirectToHTTPIsRefused(t *testing.T) {
	srv := gitlabtest.NewUnstarted()
	srv.StartTLS()
	defer srv.Close()
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		http.Redirect(w, r, "http://"+r.Host+r.URL.Path, http.StatusFound)
		return true
	})
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, waits := newClient(t, srv.APIURL(), func(c *Config) { c.CAFile = caFile })
	_, err := c.MergeRequest(ctx(t), "1", 2)
	var e *Error
	if !errors.As(err, &e) || e.Kind != Redirected {
		t.Fatalf("err = %#v, want Redirected", err)
	}
	if srv.Count() != 1 || len(*waits) != 0 || len(c.Attempts()) != 1 {
		t.Errorf("%d requests, %d attempts, waits %v: the refused redirect was followed or retried", srv.Count(), len(c.Attempts()), *waits)
	}
}
