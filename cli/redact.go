package cli

import (
	"io"
	"net/url"
	"slices"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/cienv"
	"gitlab.com/echoeshq/echoes-labels/printable"
)

// minSecret is the shortest value masked: replacing every "a" because
// someone set a one-letter token would garble the log and reveal it anyway.
const minSecret = 4

// masker holds the values that must never be shown. Nothing prints them on
// purpose; masking is the second line of defence, for a value echoed back
// by a library or a server, or pasted where it does not belong. Untrusted
// text is masked where it comes in, before it is encoded (XML, JSON, the
// log's section markers) or cut short, so that masking cannot break the
// markup around it, and a cut cannot leave a secret's first characters.
type masker []string

// secrets are the tokens and serve's webhook secret, from the environment
// or the command line, and whatever credentials a GitLab URL carries (user
// info, query values).
func secrets(env cienv.Env, args []string) masker {
	candidates := []string{env.Get("ECHOES_GITLAB_TOKEN"), env.Get("GITLAB_TOKEN"), env.Get(cienv.JobToken),
		env.Get("ECHOES_WEBHOOK_SECRET")} // serve's
	urls := []string{env.Get("CI_API_V4_URL"), env.Get("ECHOES_GITLAB_URL")}
	candidates = append(candidates, argValues(args, "--token")...)
	candidates = append(candidates, argValues(args, "--webhook-secret")...)
	urls = append(urls, argValues(args, "--gitlab-url")...)
	for _, raw := range urls {
		candidates = append(candidates, urlSecrets(raw)...)
	}
	var m masker
	return m.with(candidates...)
}

// urlSecrets are a URL's password, or its user name when it stands alone
// (https://TOKEN@host), and its query values.
func urlSecrets(raw string) []string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil
	}
	var out []string
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw)
		} else {
			out = append(out, u.User.Username())
		}
	}
	for _, vs := range u.Query() {
		out = append(out, vs...)
	}
	return out
}

// with adds values worth masking.
func (m masker) with(values ...string) masker {
	for _, s := range values {
		for _, v := range []string{s, strings.TrimSpace(s)} {
			if len(v) >= minSecret && !slices.Contains(m, v) {
				m = append(m, v)
			}
		}
	}
	return m
}

// mask masks every secret in s.
func (m masker) mask(s string) string {
	for _, secret := range m {
		s = mask(s, secret)
	}
	return s
}

// masks masks every string of a list, reusing it when nothing changes.
func (m masker) masks(list []string) []string {
	var out []string
	for i, s := range list {
		if masked := m.mask(s); masked != s {
			if out == nil {
				out = slices.Clone(list)
			}
			out[i] = masked
		}
	}
	if out == nil {
		return list
	}
	return out
}

// clip is an untrusted value for a message: masked, then made printable
// and cut to n runes.
func (m masker) clip(s string, n int) string { return printable.Truncate(m.mask(s), n) }

// quote is clip in quotes.
func (m masker) quote(s string, n int) string { return `"` + m.clip(s, n) + `"` }

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

// MaskedWriter masks the secrets of this environment and command line in
// what passes through w. main gives it to the standard logger, which
// writes one plain-text entry a call, so no secret is split across writes
// and there is no markup to break.
func MaskedWriter(w io.Writer, env cienv.Env, args []string) io.Writer {
	return &maskedWriter{w: w, m: secrets(env, args)}
}

type maskedWriter struct {
	w io.Writer
	m masker
}

func (r *maskedWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, r.m.mask(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
