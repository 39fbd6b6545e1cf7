package gitlabtest

import (
	"bytes"
	"net"
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
