package gitlabapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"testing"
	"time"
)

// FuzzMergeRequestAnswer serves arbitrary bytes as a 200 JSON answer to the
// merge request call: the client must return the labels or a Malformed
// *Error, never panic, and never labels that are not in the answer.
func FuzzMergeRequestAnswer(f *testing.F) {
	for _, s := range []string{
		`{"iid":7,"labels":["echoes/intent/x","backend"]}`,
		`{"iid":7,"labels":[]}`,
		`{"iid":7,"labels":null}`,
		`{"iid":7}`,
		`{"iid":"7","labels":["a"]}`,
		`{"labels":"echoes/intent/x"}`,
		`{"labels":[1,2]}`,
		`{"labels":["\u001b[31m","a\nb"]}`,
		`{"labels":["a"]}{"labels":["b"]}`,
		`[{"labels":["a"]}]`,
		`<!DOCTYPE html><html></html>`,
		`{"iid":7,"labels":["echoes/in`,
		``,
		`null`,
		"\xef\xbb\xbf{\"labels\":[\"a\"]}",
		`{"labels":[{"name":"a"}]}`, // GitLab's with_labels_details shape, which client-go turns into names
		`{"labels":[{"name":"a"},"b"]}`,
		`{"labels":[{"id":1}]}`,
	} {
		f.Add([]byte(s))
	}
	fuzzAnswers(f, func(ctx context.Context, c *Client) (*MergeRequest, error) {
		return c.MergeRequest(ctx, "g/p", 7)
	}, func(t *testing.T, answer []byte, mr *MergeRequest) {
		if mr == nil || mr.Labels == nil {
			t.Fatalf("answer %q: no error and no labels", answer)
		}
		// The labels are what the first JSON value of the answer says.
		var first struct {
			Labels []string `json:"labels"`
		}
		dec := json.NewDecoder(bytesReader(answer))
		if err := dec.Decode(&first); err != nil && !isTypeError(err) {
			t.Fatalf("answer %q was accepted but is not JSON: %v", answer, err)
		}
		if !reflect.DeepEqual(first.Labels, mr.Labels) {
			t.Fatalf("answer %q: labels %q, want %q", answer, mr.Labels, first.Labels)
		}
	})
}

// FuzzOpenMergeRequestsAnswer does the same for the list a branch pipeline
// reads: every merge request returned has the labels its JSON lists, and a
// list the client cannot vouch for is a Malformed *Error, never an empty
// check that would blame the developer.
func FuzzOpenMergeRequestsAnswer(f *testing.F) {
	for _, s := range []string{
		`[{"iid":7,"labels":["echoes/intent/x"]},{"iid":8,"labels":[]}]`,
		`[]`,
		`[{"iid":7}]`,
		`[{"iid":7,"labels":null}]`,
		`[{"iid":7,"labels":"x"}]`,
		`null`,
		`{"iid":7,"labels":["a"]}`,
		`[{"iid":7,"labels":["a"]},1]`,
		`[null]`, // client-go's toBasic panics on it
		`[{"iid":7,"labels":["a"]},null]`,
		`[{"iid":7,"labels":[{"name":"a"}]}]`,
	} {
		f.Add([]byte(s))
	}
	fuzzAnswers(f, func(ctx context.Context, c *Client) ([]MergeRequest, error) {
		return c.OpenMergeRequestsFrom(ctx, "g/p", "feature")
	}, func(t *testing.T, answer []byte, mrs []MergeRequest) {
		var want []struct {
			Labels *[]string `json:"labels"`
		}
		if err := json.NewDecoder(bytes.NewReader(answer)).Decode(&want); err != nil && !isTypeError(err) {
			t.Fatalf("answer %q was accepted but is not JSON: %v", answer, err)
		}
		if mrs == nil || len(mrs) != len(want) {
			t.Fatalf("answer %q: %d merge requests, want %d (and a list, not null)", answer, len(mrs), len(want))
		}
		for i, mr := range mrs {
			if want[i].Labels == nil || mr.Labels == nil {
				t.Fatalf("answer %q: merge request %d has no list of labels, yet no error", answer, i)
			}
			if !reflect.DeepEqual(mr.Labels, *want[i].Labels) {
				t.Fatalf("answer %q: labels %q, want %q", answer, mr.Labels, *want[i].Labels)
			}
		}
	})
}

// fuzzAnswers serves each answer the fuzzer makes as a 200
// application/json answer to call, and hands what call returned to accept
// unless it failed: a failure must be a Malformed *Error whose message does
// not repeat much of the answer. The answer comes from a RoundTripper
// rather than a socket: the whole client runs (retry policy, status and
// content-type checks, decoding) at thousands of answers a second, and
// coverage is not blurred by a server's goroutines.
func fuzzAnswers[T any](f *testing.F, call func(context.Context, *Client) (T, error), accept func(t *testing.T, answer []byte, got T)) {
	var body []byte
	transport := roundTripper(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header:  http.Header{"Content-Type": {"application/json"}},
			Body:    io.NopCloser(bytes.NewReader(body)),
			Request: r, ContentLength: int64(len(body))}, nil
	})
	c, err := New(Config{BaseURL: "https://gitlab.example.com", Token: "fuzz-token", transport: transport,
		delay: func(time.Duration) time.Duration { return 0 }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, answer []byte) {
		body = answer
		c.resetTrace()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		got, err := call(ctx, c)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind != Malformed || e.Status != 200 {
				t.Fatalf("answer %q: err = %#v, want a Malformed *Error", answer, err)
			}
			if n := len(e.Error()); n > 400 {
				t.Fatalf("a %d-byte error message repeats too much of the answer: %q", n, e.Error())
			}
			return
		}
		accept(t, answer, got)
	})
}

func isTypeError(err error) bool {
	var te *json.UnmarshalTypeError
	return errors.As(err, &te)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
