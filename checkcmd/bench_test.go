package checkcmd_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/app"
	"gitlab.com/echoeshq/echoes-labels/cienv"
	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

// BenchmarkMainOffline is one whole check with --labels, in process: flag
// parsing, the rules and the report, without the process start-up.
func BenchmarkMainOffline(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if code := app.Main(context.Background(), []string{"--labels", "backend,echoes/intent/feature,echoes/effort/M"}, app.Deps{
			Stdout: io.Discard, Stderr: io.Discard, Env: cienv.Map(map[string]string{"CI": "true"}), Version: "bench",
		}); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}

// BenchmarkMainAPI is one whole check against the stand-in GitLab on
// loopback: a new client, one request, the report.
func BenchmarkMainAPI(b *testing.B) {
	srv := gitlabtest.New(b)
	srv.SetToken("bench-token-value")
	srv.SetLabels(42, "group/project", 7, "backend", "echoes/intent/feature", "echoes/effort/M")
	args := []string{"--gitlab-url", srv.APIURL(), "--token", "bench-token-value", "--project", "42", "--mr", "7"}
	b.ReportAllocs()
	for b.Loop() {
		if code := app.Main(context.Background(), args, app.Deps{Stdout: io.Discard, Stderr: io.Discard, Env: cienv.Map(map[string]string{"CI": "true"}), Version: "bench"}); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}

// BenchmarkMainAPI5000 is BenchmarkMainAPI on a merge request with 5,000
// labels, the Echoes one last.
func BenchmarkMainAPI5000(b *testing.B) {
	labels := make([]string, 0, 5000)
	for i := 0; i < 4999; i++ {
		labels = append(labels, fmt.Sprintf("team/backend/component-%d", i))
	}
	srv := gitlabtest.New(b)
	srv.SetToken("bench-token-value")
	srv.SetLabels(42, "group/project", 7, append(labels, "echoes/intent/feature")...)
	args := []string{"--gitlab-url", srv.APIURL(), "--token", "bench-token-value", "--project", "42", "--mr", "7"}
	b.ReportAllocs()
	for b.Loop() {
		if code := app.Main(context.Background(), args, app.Deps{Stdout: io.Discard, Stderr: io.Discard, Version: "bench"}); code != 0 {
			b.Fatalf("exit %d", code)
		}
	}
}
