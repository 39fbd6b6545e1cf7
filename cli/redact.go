package cli

import (
	"io"
	"strings"
)

// minSecret is the shortest value redacted: replacing every "a" because
// someone set a one-letter token would garble the log and reveal it anyway.
const minSecret = 4

// secrets are the values that must never reach the log. Nothing prints them
// on purpose; redaction is the second line of defence, for a value echoed
// back inside an error from a library or a server.
func secrets(f *Flags, env Env) []string {
	var out []string
	for _, s := range []string{f.Token, strings.TrimSpace(f.Token), env.Token, env.JobToken} {
		if len(s) >= minSecret {
			out = append(out, s)
		}
	}
	return out
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
