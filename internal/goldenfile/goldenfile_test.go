package goldenfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that keeps what a check said instead of
// failing the test.
type recorder struct {
	testing.TB
	failed, fatal bool
	said          string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.said = format
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed, r.fatal = true, true
	r.said = format
	panic(r)
}

// check runs Check on a recorder, catching its Fatalf.
func check(t *testing.T, path, got string) (r *recorder) {
	r = &recorder{TB: t}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
	}()
	Check(r, path, got)
	return r
}

func TestCheck(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.golden")
	if r := check(t, path, "x"); !r.fatal || !strings.Contains(r.said, "-update") {
		t.Errorf("a missing golden file: failed %v, fatal %v, said %q; want a fatal naming -update", r.failed, r.fatal, r.said)
	}
	if err := os.WriteFile(path, []byte("same\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := check(t, path, "same\n"); r.failed {
		t.Errorf("equal output failed: %q", r.said)
	}
	if r := check(t, path, "other\n"); !r.failed || r.fatal || !strings.Contains(r.said, "differs") {
		t.Errorf("other output: failed %v, fatal %v, said %q; want an error saying it differs", r.failed, r.fatal, r.said)
	}

	*update = true
	t.Cleanup(func() { *update = false })
	if r := check(t, path, "new\n"); r.failed {
		t.Errorf("-update failed: %q", r.said)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "new\n" {
		t.Errorf("-update wrote %q, %v; want the output", b, err)
	}
}
