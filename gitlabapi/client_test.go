package gitlabapi

import (
	"gitlab.com/echoeshq/echoes-labels/exit"

	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

const token = "glpat-s3cr3t-t0k3n-value"

// newClient builds a client against srv whose retry waits are recorded, not slept.
func newClient(t *testing.T, baseURL string, mod ...func(*Config)) (*Client, *[]time.Duration) {
	t.Helper()
	var waits []time.Duration
	cfg := Config{BaseURL: baseURL, Token: token, delay: func(d time.Duration) time.Duration {
		waits = append(waits, d)
		return 0
	}}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, &waits
}

// readMR reads merge request !2 of project 1 from baseURL.
func readMR(t *testing.T, baseURL string) error {
	c, _ := newClient(t, baseURL)
	_, err := c.MergeRequest(ctx(t), "1", 2)
	return err
}

// kindOf is the Kind of an *Error, -1 for any other error.
func kindOf(err error) ErrorKind {
	var e *Error
	if !errors.As(err, &e) {
		return -1
	}
	return e.Kind
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestMergeRequestLabelsWithOneRequest(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(278964, "gitlab-org/gitlab-ee", 14656, "echoes/intent/feature", "backend")
	c, _ := newClient(t, srv.APIURL())
	for _, project := range []string{"278964", "gitlab-org/gitlab-ee"} {
		mr, err := c.MergeRequest(ctx(t), project, 14656)
		if err != nil {
			t.Fatalf("%s: %v", project, err)
		}
		if want := []string{"echoes/intent/feature", "backend"}; !reflect.DeepEqual(mr.Labels, want) {
			t.Errorf("labels = %q, want %q", mr.Labels, want)
		}
		if mr.IID != 14656 || mr.WebURL == "" {
			t.Errorf("merge request = %+v", mr)
		}
	}
	reqs := srv.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want one per lookup", len(reqs))
	}
	if reqs[1].Path != "/api/v4/projects/gitlab-org%2Fgitlab-ee/merge_requests/14656" {
		t.Errorf("path = %s, want the project path escaped as GitLab expects", reqs[1].Path)
	}
	if reqs[0].PrivateToken != token || reqs[0].JobToken != "" {
		t.Errorf("sent PRIVATE-TOKEN %q JOB-TOKEN %q", reqs[0].PrivateToken, reqs[0].JobToken)
	}
}

func TestJobTokenHeader(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetJobToken("job-token-value")
	srv.SetLabels(1, "g/p", 2, "a")
	c, _ := newClient(t, srv.APIURL(), func(c *Config) { c.Token, c.TokenKind = "job-token-value", JobToken })
	if _, err := c.MergeRequest(ctx(t), "1", 2); err != nil {
		t.Fatal(err)
	}
	if r := srv.Requests()[0]; r.JobToken != "job-token-value" || r.PrivateToken != "" {
		t.Errorf("sent PRIVATE-TOKEN %q JOB-TOKEN %q", r.PrivateToken, r.JobToken)
	}
}

// Real recorded answers (testdata/SOURCE.md) decode, labels intact.
func TestRealAnswersDecode(t *testing.T) {
	for _, name := range []string{"go-gitlab_get_merge_request.json", "gitlab-docs_get_single_merge_request.json"} {
		body, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		c, _ := newClient(t, srv.URL)
		mr, err := c.MergeRequest(ctx(t), "1", 1)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Contains(string(body), `"labels": []`) != (len(mr.Labels) == 0) || mr.IID == 0 {
			t.Errorf("%s decoded as %+v", name, mr)
		}
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		answers   []func(w http.ResponseWriter)
		wantErr   ErrorKind // -1: success
		wantCalls int
		wantWaits []time.Duration
	}{
		{"429 honours Retry-After", []func(http.ResponseWriter){
			func(w http.ResponseWriter) {
				w.Header().Set("Retry-After", "7")
				gitlabtest.Error(w, 429, "Retry later")
			},
		}, -1, 2, []time.Duration{7 * time.Second}},
		{"502 then 200", []func(http.ResponseWriter){
			func(w http.ResponseWriter) { w.WriteHeader(502) },
		}, -1, 2, []time.Duration{500 * time.Millisecond}},
		{"503 forever gives up", repeat(10, func(w http.ResponseWriter) { w.WriteHeader(503) }),
			Status, 5, []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}},
		{"401 not retried", []func(http.ResponseWriter){
			func(w http.ResponseWriter) { gitlabtest.Error(w, 401, "401 Unauthorized") },
		}, Status, 1, nil},
		{"403 not retried", []func(http.ResponseWriter){
			func(w http.ResponseWriter) { gitlabtest.Error(w, 403, "403 Forbidden") },
		}, Status, 1, nil},
		{"404 not retried", []func(http.ResponseWriter){
			func(w http.ResponseWriter) { gitlabtest.Error(w, 404, "404 Project Not Found") },
		}, Status, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := gitlabtest.New(t)
			srv.SetLabels(1, "g/p", 2, "echoes/intent/x")
			srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
				if n <= len(tt.answers) {
					tt.answers[n-1](w)
					return true
				}
				return false
			})
			c, waits := newClient(t, srv.APIURL())
			mr, err := c.MergeRequest(ctx(t), "1", 2)
			if tt.wantErr == -1 {
				if err != nil || len(mr.Labels) != 1 {
					t.Fatalf("got %v, %v; want the labels", mr, err)
				}
			} else {
				var e *Error
				if !errors.As(err, &e) || e.Kind != tt.wantErr {
					t.Fatalf("err = %#v, want kind %v", err, tt.wantErr)
				}
			}
			if srv.Count() != tt.wantCalls {
				t.Errorf("%d requests, want %d", srv.Count(), tt.wantCalls)
			}
			if !reflect.DeepEqual(*waits, tt.wantWaits) {
				t.Errorf("waits = %v, want %v", *waits, tt.wantWaits)
			}
			if len(c.Attempts()) != tt.wantCalls {
				t.Errorf("traced %d attempts, want %d", len(c.Attempts()), tt.wantCalls)
			}
		})
	}
}

func repeat(n int, f func(http.ResponseWriter)) []func(http.ResponseWriter) {
	out := make([]func(http.ResponseWriter), n)
	for i := range out {
		out[i] = f
	}
	return out
}

func TestStatusErrorsCarryGitLabsMessage(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetToken("other")
	c, _ := newClient(t, srv.APIURL())
	_, err := c.MergeRequest(ctx(t), "1", 2)
	var e *Error
	// GitLab's "401 Unauthorized" only repeats the status: not said twice.
	if !errors.As(err, &e) || e.Status != 401 || e.Message != "" || strings.Count(err.Error(), "Unauthorized") != 1 {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error text holds the token: %v", err)
	}

	srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		gitlabtest.Error(w, 403, "403 Forbidden - insufficient_scope")
		return true
	})
	_, err = c.MergeRequest(ctx(t), "1", 2)
	if !errors.As(err, &e) || e.Status != 403 || e.Message != "Forbidden - insufficient_scope" {
		t.Fatalf("err = %v, want GitLab's detail kept", err)
	}
}

func TestMalformedAnswers(t *testing.T) {
	for name, answer := range map[string]func(http.ResponseWriter){
		"html": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html><body>Sign in</body></html>"))
		},
		"truncated JSON": func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"iid": 2, "labels": ["echoes/int`))
		},
		"no labels field": func(w http.ResponseWriter) { gitlabtest.JSON(w, 200, map[string]any{"iid": 2}) },
		"labels not a list": func(w http.ResponseWriter) {
			gitlabtest.JSON(w, 200, map[string]any{"iid": 2, "labels": "echoes/intent/x"})
		},
		"labels null":      func(w http.ResponseWriter) { gitlabtest.JSON(w, 200, map[string]any{"iid": 2, "labels": nil}) },
		"JSON array":       func(w http.ResponseWriter) { gitlabtest.JSON(w, 200, []string{"echoes/intent/x"}) },
		"no content-type":  func(w http.ResponseWriter) { w.Header()["Content-Type"] = nil; _, _ = w.Write([]byte(`{"labels":[]}`)) },
		"empty 200 answer": func(w http.ResponseWriter) { w.Header().Set("Content-Type", "application/json") },
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { answer(w) }))
			defer srv.Close()
			if err := readMR(t, srv.URL); kindOf(err) != Malformed {
				t.Fatalf("err = %v, want a Malformed API error", err)
			}
		})
	}
}

func TestServerThatNeverAnswersIsBoundedByTheDeadline(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	c, _ := newClient(t, srv.URL)
	cx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.MergeRequest(cx, "1", 2)
	var e *Error
	if !errors.As(err, &e) || e.Kind != Timeout {
		t.Fatalf("err = %v, want Timeout", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v past a 200ms deadline", el)
	}
}

func TestConnectionRefused(t *testing.T) {
	addr := gitlabtest.ClosedAddr(t)
	c, waits := newClient(t, "http://"+addr)
	_, err := c.MergeRequest(ctx(t), "1", 2)
	var e *Error
	if !errors.As(err, &e) || e.Kind != Unreachable {
		t.Fatalf("err = %v, want Unreachable", err)
	}
	if len(*waits) == 0 {
		t.Error("a refused connection should be retried")
	}
}

func TestTLS(t *testing.T) {
	srv := gitlabtest.NewUnstarted()
	srv.StartTLS()
	defer srv.Close()
	srv.SetLabels(1, "g/p", 2, "echoes/intent/x")

	c, _ := newClient(t, srv.APIURL())
	_, err := c.MergeRequest(ctx(t), "1", 2)
	var e *Error
	if !errors.As(err, &e) || e.Kind != TLS {
		t.Fatalf("unknown CA: err = %v, want a TLS error", err)
	}
	if srv.Count() != 0 {
		t.Errorf("an untrusted server got %d requests (and the token)", srv.Count())
	}

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ = newClient(t, srv.APIURL(), func(c *Config) { c.CAFile = caFile })
	if _, err := c.MergeRequest(ctx(t), "1", 2); err != nil {
		t.Fatalf("with the CA file: %v", err)
	}
}

// An https:// URL for a plain HTTP server fails at once, saying so: the
// handshake would fail the same way on every try.
func TestHTTPSToAPlainHTTPServer(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(1, "g/p", 2, "echoes/intent/x")
	c, _ := newClient(t, strings.Replace(srv.APIURL(), "http://", "https://", 1))
	_, err := c.MergeRequest(ctx(t), "1", 2)
	var e *Error
	if !errors.As(err, &e) || e.Kind != TLS || !IsPlainHTTP(e.Err) || e.Attempts != 1 {
		t.Fatalf("err = %v (%+v), want a TLS error from one attempt that IsPlainHTTP", err, e)
	}
	if !strings.Contains(e.Error(), "plain HTTP") || !strings.Contains(e.Error(), "https://") {
		t.Errorf("the error does not say http/https: %s", e.Error())
	}
}

func TestBadCAFileIsAConfigError(t *testing.T) {
	for name, path := range map[string]string{
		"missing":    filepath.Join(t.TempDir(), "nope.pem"),
		"not a cert": writeFile(t, "junk"),
	} {
		_, err := New(Config{BaseURL: "https://gitlab.example.com", CAFile: path})
		var ce *exit.Error
		if !errors.As(err, &ce) || !strings.Contains(ce.Cause, "CI_SERVER_TLS_CA_FILE") {
			t.Errorf("%s: err = %v, want a ConfigError naming CI_SERVER_TLS_CA_FILE", name, err)
		}
	}
}

func writeFile(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRedirectToAnotherHostKeepsTheToken(t *testing.T) {
	other := gitlabtest.New(t)
	other.SetLabels(1, "g/p", 2, "echoes/intent/x")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// 127.0.0.1 and localhost are different hosts to the client.
		http.Redirect(w, r, strings.Replace(other.URL, "127.0.0.1", "localhost", 1)+r.URL.Path, http.StatusFound)
	}))
	defer srv.Close()
	if err := readMR(t, srv.URL); kindOf(err) != Redirected {
		t.Fatalf("err = %v, want Redirected", err)
	}
	for _, r := range other.Requests() {
		if r.PrivateToken != "" {
			t.Fatalf("the token reached the other host")
		}
	}
}

func TestRedirectOnTheSameHostIsFollowed(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(1, "g/p", 2, "echoes/intent/x")
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasPrefix(r.URL.Path, "/old/") {
			http.Redirect(w, r, strings.TrimPrefix(r.URL.Path, "/old"), http.StatusMovedPermanently)
			return true
		}
		return false
	})
	c, _ := newClient(t, srv.URL+"/old/api/v4")
	if _, err := c.MergeRequest(ctx(t), "1", 2); err != nil {
		t.Fatal(err)
	}
}

func TestParseBaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://gitlab.com/api/v4":                "https://gitlab.com/api/v4",
		"https://gitlab.com/api/v4/":               "https://gitlab.com/api/v4",
		"https://gitlab.com":                       "https://gitlab.com/api/v4",
		"http://127.0.0.1:8080/gitlab":             "http://127.0.0.1:8080/gitlab/api/v4",
		" https://gitlab.example.com/api/v4?x=1 ":  "https://gitlab.example.com/api/v4",
		"https://gitlab.example.com/api/v4#anchor": "https://gitlab.example.com/api/v4",
	} {
		u, err := ParseBaseURL(in)
		if err != nil || u.String() != want {
			t.Errorf("ParseBaseURL(%q) = %v, %v; want %s", in, u, err, want)
		}
	}
	for _, bad := range []string{"", "gitlab.com", "not a url", "ftp://gitlab.com", "https://", "https://user:pw@gitlab.com/api/v4", "://x"} {
		_, err := ParseBaseURL(bad)
		var ce *exit.Error
		if !errors.As(err, &ce) {
			t.Errorf("ParseBaseURL(%q) = %v, want a ConfigError", bad, err)
		} else if strings.Contains(ce.Cause, "pw") {
			t.Errorf("error repeats a password: %s", ce.Cause)
		}
	}
	// Past the API root: the URL is blamed, and the root offered.
	_, err := ParseBaseURL("https://gitlab.example.com/api/v4/projects")
	var ce *exit.Error
	if !errors.As(err, &ce) || ce.Code != exit.Config || !strings.Contains(ce.Cause, "past the API root") || !strings.Contains(ce.Fix, "https://gitlab.example.com/api/v4,") {
		t.Errorf("…/api/v4/projects: %v, want a configuration error offering https://gitlab.example.com/api/v4", err)
	}
}

func TestRetryAfterPastTheDeadlineIsReportedAtOnce(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(1, "g/p", 2, "echoes/intent/x")
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		w.Header().Set("Retry-After", "3600")
		gitlabtest.Error(w, 429, "Retry later")
		return true
	})
	c, waits := newClient(t, srv.APIURL())
	cx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.MergeRequest(cx, "1", 2)
	var e *Error
	if !errors.As(err, &e) || e.Kind != Status || e.Status != 429 || e.RetryAfter != "3600" {
		t.Fatalf("err = %#v, want the 429 with its Retry-After", err)
	}
	if srv.Count() != 1 || len(*waits) != 0 {
		t.Errorf("%d requests and waits %v: an hour's wait against a 30s deadline should not be tried", srv.Count(), *waits)
	}
}

func (c *Client) resetTrace() {
	c.mu.Lock()
	c.traced = nil
	c.mu.Unlock()
}
