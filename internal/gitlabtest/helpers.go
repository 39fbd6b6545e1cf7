package gitlabtest

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"sync"
	"testing"
)

// ClosedAddr is a loopback host:port where nothing listens, for a
// connection that is refused at once.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// LockedBuffer is a bytes.Buffer that goroutines (a server's, a service's
// workers) may write to while a test reads it.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *LockedBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

// GetJSON asks url with the given header name and value pairs (a pair
// with no name is skipped) and returns the status and the JSON object
// answered; an answer that is not one fails the test.
func GetJSON(t testing.TB, url string, header ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] != "" {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s: not JSON: %v", url, err)
	}
	return resp.StatusCode, body
}
