package gitlabapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// maxBody bounds what is read from GitLab, and with it the check's memory,
// which must stay under 100 MiB whatever the answer (issue 9). client-go
// decodes a merge request twice, into a map[string]any and then into its
// struct, after encoding/json has buffered the whole answer: a label costs
// about 50 bytes of heap however short it is, so the densest answer (1.4
// million empty labels in 4 MiB) holds some 60 MiB live and peaks at 81 MiB
// RSS (bench/memory.sh, bench/RESULTS.md), with cmd/echoes-labels' soft
// memory limit keeping the garbage down; 8 MiB of them peaked at 179 MiB.
// A real merge request stays far below 4 MiB: 5,000 labels of GitLab's
// longest, 255 characters, are 1.3 MB, and GitLab's longest description
// about 1 MB more.
const maxBody = 4 << 20

// maxBodyText is maxBody as the error names it.
const maxBodyText = "4 MiB"

// maxErrorBody bounds what is kept of an error answer to read its message.
const maxErrorBody = 64 << 10

// errTooLarge ends the reading of an answer beyond maxBody: client-go would
// otherwise decode whatever it is sent.
var errTooLarge = errors.New("answer larger than " + maxBodyText)

// recorder is the transport under client-go. It traces every attempt, keeps
// the body of an error answer (client-go reads none for a 404, and GitLab's
// message there tells a missing project from a missing merge request), and
// caps and watches the body of every other answer.
type recorder struct {
	next   http.RoundTripper
	client *Client
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := r.next.RoundTrip(req)
	a := Attempt{Method: req.Method, Path: req.URL.EscapedPath(), Duration: time.Since(start), Err: err,
		url: req.URL.Scheme + "://" + req.URL.Host + req.URL.EscapedPath()}
	if resp != nil {
		a.Status = resp.StatusCode
		a.contentType = resp.Header.Get("Content-Type")
		if resp.StatusCode >= 400 {
			a.body, _ = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(a.body))
		} else {
			a.sniff = &cappedBody{ReadCloser: resp.Body, left: maxBody}
			resp.Body = a.sniff
		}
	}
	r.client.trace(a)
	if rec, ok := req.Context().Value(callKey{}).(*call); ok {
		rec.mu.Lock()
		rec.attempts = append(rec.attempts, a)
		rec.mu.Unlock()
	}
	return resp, err
}

// cappedBody fails the read of an answer past maxBody, and notes the first
// byte of JSON in it: client-go decodes null and [] alike into an empty
// list, which for the merge requests of a branch would pass unchecked.
type cappedBody struct {
	io.ReadCloser
	left  int64
	first byte // first non-space byte, 0 until one is read
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	for i := 0; b.first == 0 && i < n; i++ {
		if c := p[i]; c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			b.first = c
		}
	}
	if b.left -= int64(n); b.left < 0 {
		return n, errTooLarge
	}
	return n, err
}

// maxTraced bounds the client's trace: a check makes a few calls, but the
// serve command's client lives for days.
const maxTraced = 1000

// trace keeps what Attempts reports of a: not the body, which only the
// call's own record needs.
func (c *Client) trace(a Attempt) {
	a.body, a.sniff = nil, nil
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.traced) == maxTraced {
		c.traced = append(c.traced[:0], c.traced[maxTraced/2:]...)
	}
	c.traced = append(c.traced, a)
}

type callKey struct{}

// call gathers the attempts of one client-go call. It travels in the
// request's context, so that concurrent calls on one Client stay apart.
type call struct {
	mu       sync.Mutex
	attempts []Attempt
}

func withCall(ctx context.Context) (context.Context, *call) {
	rec := &call{}
	return context.WithValue(ctx, callKey{}, rec), rec
}

// last is the call's last attempt, the one whose answer client-go read.
func (rec *call) last() (Attempt, int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.attempts) == 0 {
		return Attempt{}, 0
	}
	return rec.attempts[len(rec.attempts)-1], len(rec.attempts)
}

// firstByte is the first byte of JSON in the answer client-go decoded.
func (rec *call) firstByte() byte {
	if last, n := rec.last(); n > 0 && last.sniff != nil {
		return last.sniff.first
	}
	return 0
}
