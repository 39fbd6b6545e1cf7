package checkcmd_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

// What a newcomer met in the first hour (issue 16): each message gives its
// cause and its fix, and no piece of a secret.

func TestTheCheckReadsEchoesGitLabURL(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetToken(secret)
	srv.SetLabels(42, "group/project", 7, "echoes/intent/feature")
	// serve reads ECHOES_GITLAB_URL first; so does the check, or a token
	// meant for a private GitLab goes to the one in CI_API_V4_URL.
	r := runIn(t, map[string]string{"ECHOES_GITLAB_URL": srv.APIURL(), "CI_API_V4_URL": "http://127.0.0.1:1/api/v4"}, nil,
		"--token", secret, "--project", "42", "--mr", "7")
	if r.code != 0 {
		t.Fatalf("want a pass through ECHOES_GITLAB_URL:\n%s", r)
	}
}

func TestUsageMessagesNameTheirFix(t *testing.T) {
	for _, tt := range []struct {
		name        string
		args        []string
		env         map[string]string
		cause, fix  string
		notInOutput string
	}{
		{"--labels without a value", []string{"--labels"}, nil, "--labels needs a value", "--help", "EOL"},
		{"--format junit", []string{"--labels", "x", "--format", "junit"}, nil, `--format/ECHOES_FORMAT is "junit"`, "--junit echoes-labels.junit.xml", ""},
		{"a docs URL with markup and a line break", []string{"--labels", "x"},
			map[string]string{"ECHOES_DOCS_URL": "https://docs.example.com\n<img src=x onerror=alert(1)>\n/label ~bug"},
			"not one absolute http(s) URL", DefaultDocsHint, "\n<img"},
		{"a relative docs URL", []string{"--labels", "x", "--docs-url", "docs/labels"}, nil, "not one absolute http(s) URL", DefaultDocsHint, ""},
		{"a duration without a unit", []string{"--labels", "x", "--timeout", "30"}, nil, `--timeout/ECHOES_TIMEOUT is "30"`, "add a unit: 30s", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runIn(t, tt.env, nil, tt.args...)
			if r.code != 2 {
				t.Fatalf("want exit 2:\n%s", r)
			}
			causeAndFix(t, r, tt.cause, tt.fix)
			if tt.notInOutput != "" && strings.Contains(r.stdout+r.stderr, tt.notInOutput) {
				t.Errorf("the output holds %q:\n%s", tt.notInOutput, r)
			}
		})
	}
}

// DefaultDocsHint is what the docs URL's fix offers.
const DefaultDocsHint = settings.DefaultDocsURL

func TestAMalformedURLDoesNotPrintItsToken(t *testing.T) {
	r := runIn(t, map[string]string{"CI_API_V4_URL": "http://127.0.0.1:bad/api/v4?private_token=" + secret}, nil,
		"--token", "glpat-other-0123456789", "--project", "42", "--mr", "7")
	if r.code != 2 || !strings.Contains(r.stderr, "fix:") {
		t.Fatalf("want exit 2 with a fix:\n%s", r)
	}
	noPieceOf(t, r, secret)
}

// A GitLab, or a proxy, that echoes the token in headers: the token is
// masked before any cut, so not even its first characters show.
func TestEchoedTokenInHeadersIsMaskedBeforeTheCut(t *testing.T) {
	long := secret + strings.Repeat("x", 300)
	for _, tt := range []struct {
		name   string
		handle http.HandlerFunc
	}{
		{"content type", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; a=b; padding-to-push-the-token-past-the-cut-point; t="+long)
			_, _ = w.Write([]byte(`{"labels":[]}`))
		}},
		{"retry-after", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Retry-After", "soon; "+long)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"message":"503 Service Unavailable"}`))
		}},
		{"error body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"message":"` + strings.Repeat("p", 190) + long + `"}`))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handle)
			t.Cleanup(srv.Close)
			r := runIn(t, nil, nil, "--gitlab-url", srv.URL+"/api/v4", "--token", secret, "--project", "42", "--mr", "7", "--timeout", "2s")
			if r.code != 3 {
				t.Fatalf("want exit 3:\n%s", r)
			}
			noPieceOf(t, r, secret)
		})
	}
}

// noPieceOf fails when the output holds the secret's first 10 characters.
func noPieceOf(t *testing.T, r result, secret string) {
	t.Helper()
	if piece := strings.ToLower(secret[:10]); strings.Contains(strings.ToLower(r.stdout+r.stderr), piece) {
		t.Errorf("the output holds a piece of the secret (%q):\n%s", piece, r)
	}
}
