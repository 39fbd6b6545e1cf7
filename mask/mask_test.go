package mask

import (
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/cienv"
)

func TestMask(t *testing.T) {
	for _, tt := range []struct{ s, secret, want string }{
		{"token glpat-AbC123 here", "glpat-AbC123", "token [MASKED] here"},
		{`got "glpat-abc123"`, "glpat-AbC123", `got "[MASKED]"`},
		{"GLPAT-ABC123 and glpat-abc123", "glpat-AbC123", "[MASKED] and [MASKED]"},
		{"\xffglpat-abc123\xfe", "glpat-AbC123", "\xff[MASKED]\xfe"},
		{"nothing to hide", "glpat-AbC123", "nothing to hide"},
		{"é glpat-ABC123 é", "glpat-abc123", "é [MASKED] é"},
	} {
		if got := maskOne(tt.s, tt.secret, anywhere); got != tt.want {
			t.Errorf("mask(%q, %q) = %q, want %q", tt.s, tt.secret, got, tt.want)
		}
	}
}

func FuzzMask(f *testing.F) {
	f.Add("token glpat-AbC123 here", "glpat-AbC123")
	f.Add("\xffGLPAT-abc\xfe", "glpat-ABC")
	f.Add("aaaa", "aa")
	f.Fuzz(func(t *testing.T, s, secret string) {
		// Tokens are letters, digits, "-" and "_"; "[MASKED]" shares none
		// of its brackets with them, so it cannot complete a token.
		if len(secret) < MinSecret || strings.ContainsFunc(secret, func(r rune) bool {
			return !(r == '-' || r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9')
		}) {
			return
		}
		got := maskOne(s, secret, anywhere)
		if strings.Contains(lowerASCII(got), lowerASCII(secret)) {
			t.Fatalf("mask(%q, %q) = %q still holds the secret", s, secret, got)
		}
		if !strings.Contains(lowerASCII(s), lowerASCII(secret)) && got != s {
			t.Fatalf("mask(%q, %q) = %q changed a string without the secret", s, secret, got)
		}
	})
}

// serve's webhook secret is a secret too: pasted into another variable or
// flag, the error quoting that value must not show it.
func TestWebhookSecretIsMasked(t *testing.T) {
	const webhookSecret = "whsec-0123456789abcdef"
	env := cienv.Map(map[string]string{"ECHOES_WEBHOOK_SECRET": webhookSecret})
	for _, m := range []Secrets{
		FromEnv(env, []string{"serve"}),
		FromEnv(cienv.Map(nil), []string{"serve", "--webhook-secret", webhookSecret}),
		FromEnv(cienv.Map(nil), []string{"serve", "--webhook-secret=" + webhookSecret}),
	} {
		if got := m.Mask(`--reconcile-interval: expected duration but got "` + webhookSecret + `"`); strings.Contains(got, webhookSecret) {
			t.Errorf("the webhook secret was not masked: %s", got)
		}
	}
}

// A URL that does not parse is masked like one that does: its parse error
// quotes it whole.
func TestMalformedURLSecretsAreMasked(t *testing.T) {
	const token = "glpat-Rk7Wq2Zx9Lm4Tv8N"
	for _, raw := range []string{
		"http://127.0.0.1:bad/api/v4?private_token=" + token,
		"http://127.0.0.1:bad/api/v4?a=b&private_token=" + token + "#frag",
		"https://oauth2:" + token + "@gitlab.example.com:bad/api/v4",
		"https://" + token + "@gitlab.example.com:bad/api/v4",
	} {
		m := FromEnv(cienv.Map(map[string]string{"CI_API_V4_URL": raw}), nil)
		if got := m.Mask("cannot parse " + raw); strings.Contains(got, token) {
			t.Errorf("%s: the token survives: %s", raw, got)
		}
	}
}

// A token pasted into a variable that holds no secret, or echoed in part,
// is masked all the same.
func TestTokenShapedAndPartialSecretsAreMasked(t *testing.T) {
	var none Secrets
	for _, tt := range []struct{ in, want string }{
		{`--timeout/ECHOES_TIMEOUT is "glpat-Rk7Wq2Zx9Lm4Tv8NsecretTAIL", not a duration`, `--timeout/ECHOES_TIMEOUT is "[MASKED]", not a duration`},
		{`job=GLPAT-RK7WQ2ZX9LM4TV8N -->`, `job=[MASKED] -->`},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw and gldt-abcdefgh12", "[MASKED] and [MASKED]"},
		{"glpat-short and echoes/intent/feature", "glpat-short and echoes/intent/feature"},
		{"backend", "backend"},
		{"whsec_abcdefgh", "[MASKED]"}, // shorter than the longest prefix plus its tail
	} {
		if got := none.Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	known := none.With("s3cret-0123456789abcdef")
	if got := known.Mask(`{"message":"bad secret s3cret-012... given"}`); strings.Contains(got, "s3cret-012") {
		t.Errorf("a cut echo of a known secret survives: %s", got)
	}
}

// A secret is masked where it stands, not in every word that shares it.
func TestMaskWhereTheSecretStands(t *testing.T) {
	short := Secrets{}.With(URLSecrets("http://user:pass@gitlab.example.com/")...)
	long := Secrets{}.With("try-serve-webhook-secret")
	for _, tt := range []struct {
		m        Secrets
		in, want string
	}{
		{short, "the GitLab API URL carries a user name or password", "the GitLab API URL carries a user name or password"},
		{short, "Get http://user:pass@gitlab.example.com/api/v4: refused", "Get http://user:[MASKED]@gitlab.example.com/api/v4: refused"},
		{short, `password "pass" refused`, `password "[MASKED]" refused`},
		{short, "bypass passes", "bypass passes"},
		{short, "fix: set ECHOES_GITLAB_TOKEN or pass --token", "fix: set ECHOES_GITLAB_TOKEN or pass --token"},
		{short, "pass", "[MASKED]"},
		{short, "token pass", "token [MASKED]"},
		{long, "delivery 2b2c8c6e-try-serve-0001 retried", "delivery 2b2c8c6e-try-serve-0001 retried"},
		{long, "secret try-serve-webhook-secret refused", "secret [MASKED] refused"},
		{long, `secret "try-serve-…" refused`, `secret "[MASKED]…" refused`},
		{long, "secret try-serve-... refused", "secret [MASKED]... refused"},
		{long, "cut at try-serve-", "cut at [MASKED]"},
	} {
		if got := tt.m.Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
