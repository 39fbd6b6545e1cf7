package cli

import (
	"io"
	"net/url"
	"slices"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/cienv"
)

// minSecret is the shortest value redacted: replacing every "a" because
// someone set a one-letter token would garble the log and reveal it anyway.
const minSecret = 4

// secrets are the values that must never reach the log. Nothing prints them
// on purpose; masking is the second line of defence, for a value echoed
// back inside an error from a library or a server. They are the tokens, from
// the environment or the command line, and whatever credentials a GitLab
// URL carries (user info, query values).
func secrets(env cienv.Env, args []string) []string {
	candidates := []string{env.Get("ECHOES_GITLAB_TOKEN"), env.Get("GITLAB_TOKEN"), env.Get(cienv.JobToken)}
	urls := []string{env.Get("CI_API_V4_URL")}
	for i, a := range args {
		for _, flag := range []string{"--token", "--gitlab-url"} {
			v, ok := strings.CutPrefix(a, flag+"=")
			if !ok && a == flag && i+1 < len(args) {
				v, ok = args[i+1], true
			}
			if ok && flag == "--token" {
				candidates = append(candidates, v)
			} else if ok {
				urls = append(urls, v)
			}
		}
	}
	for _, raw := range urls {
		if u, err := url.Parse(strings.TrimSpace(raw)); err == nil {
			if u.User != nil {
				pw, _ := u.User.Password()
				candidates = append(candidates, u.User.Username(), pw)
			}
			for _, vs := range u.Query() {
				candidates = append(candidates, vs...)
			}
		}
	}
	var out []string
	for _, s := range candidates {
		for _, v := range []string{s, strings.TrimSpace(s)} {
			if len(v) >= minSecret && !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
	}
	return out
}

// MaskedWriter masks the secrets of this environment and command line in
// what passes through w; main gives it to the standard logger, which writes
// one entry a call.
func MaskedWriter(w io.Writer, env cienv.Env, args []string) io.Writer {
	return &redactingWriter{w: w, secrets: secrets(env, args)}
}

// maskAll masks every secret in s.
func maskAll(s string, secrets []string) string {
	for _, secret := range secrets {
		s = mask(s, secret)
	}
	return s
}

// mask replaces secret in s in any ASCII case: kong lowercases a bad bool
// value before quoting it, so a token pasted into ECHOES_REQUIRE_EFFORT
// would otherwise reach the log in lower case.
func mask(s, secret string) string {
	if secret == "" {
		return s
	}
	folded, want := lowerASCII(s), lowerASCII(secret)
	if !strings.Contains(folded, want) {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(folded, want)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString("[MASKED]")
		s, folded = s[i+len(want):], folded[i+len(want):]
	}
}

// lowerASCII lowercases ASCII letters only, byte by byte, so that byte
// offsets in the result are offsets in s (even in invalid UTF-8).
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// redactingWriter masks secrets in what passes through it. Each report and
// error is written whole, so a secret is never split across two writes.
type redactingWriter struct {
	w       io.Writer
	secrets []string
}

func (r *redactingWriter) Write(p []byte) (int, error) {
	if len(r.secrets) == 0 {
		return r.w.Write(p)
	}
	if _, err := io.WriteString(r.w, maskAll(string(p), r.secrets)); err != nil {
		return 0, err
	}
	return len(p), nil
}
