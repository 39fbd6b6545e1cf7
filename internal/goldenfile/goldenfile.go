// Package goldenfile compares a test's output with a file kept in the
// package's testdata/; `go test -update` rewrites the files instead.
package goldenfile

import (
	"flag"
	"os"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Check fails t when got differs from the file at path, showing both;
// with -update it writes got to path instead.
func Check(t testing.TB, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update in its package creates it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (go test -update in its package rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
