// Package mask keeps secrets out of everything echoes-labels prints: the
// tokens and serve's webhook secret, from the environment or the command
// line, and the credentials a GitLab URL carries. Nothing prints them on
// purpose; masking is the second line of defence, for a value echoed back
// by a library or a server, or pasted where it does not belong. Untrusted
// text is masked where it comes in, before it is encoded (XML, JSON, the
// log's section markers) or cut short, so that masking cannot break the
// markup around it, and a cut cannot leave a secret's first characters.
package mask

import (
	"io"
	"net/url"
	"slices"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/cienv"
	"gitlab.com/echoeshq/echoes-labels/printable"
)

// MinSecret is the shortest value masked: replacing every "a" because
// someone set a one-letter token would garble the log and reveal it anyway.
const MinSecret = 4

// Replacement stands where a secret was.
const Replacement = "[MASKED]"

// Secrets are the values that must never be shown.
type Secrets []string

// The variables and flags that hold secrets, for both commands.
var (
	secretVars = append(cienv.TokenVars[:len(cienv.TokenVars):len(cienv.TokenVars)], cienv.JobToken, cienv.WebhookSecretVar)
	urlVars    = []string{"CI_API_V4_URL", "ECHOES_GITLAB_URL"}
	secretArgs = []string{"--token", "--webhook-secret"}
	urlArgs    = []string{"--gitlab-url"}
)

// FromEnv gathers the secrets of a run: those of the environment and the
// command line, and whatever credentials a GitLab URL given either way
// carries (user info, query values), parsable or not.
func FromEnv(env cienv.Env, args []string) Secrets {
	var candidates, urls []string
	for _, v := range secretVars {
		candidates = append(candidates, env.Get(v))
	}
	for _, v := range urlVars {
		urls = append(urls, env.Get(v))
	}
	for _, f := range secretArgs {
		candidates = append(candidates, ArgValues(args, f)...)
	}
	for _, f := range urlArgs {
		urls = append(urls, ArgValues(args, f)...)
	}
	for _, raw := range urls {
		candidates = append(candidates, URLSecrets(raw)...)
	}
	var s Secrets
	return s.With(candidates...)
}

// URLSecrets are a URL's password, or its user name when it stands alone
// (https://TOKEN@host), and its query values. A URL that does not parse
// (a bad port) is read by hand: its error message would quote it whole.
func URLSecrets(raw string) []string {
	raw = strings.TrimSpace(raw)
	var out []string
	if u, err := url.Parse(raw); err == nil {
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
	rest := raw
	if _, after, ok := strings.Cut(rest, "://"); ok {
		rest = after
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 && !strings.ContainsAny(rest[:at], "/?#") {
		user, pw, hasPW := strings.Cut(rest[:at], ":")
		if hasPW {
			out = append(out, pw, unescape(pw))
		} else {
			out = append(out, user, unescape(user))
		}
	}
	if _, query, ok := strings.Cut(raw, "?"); ok {
		query, _, _ = strings.Cut(query, "#")
		for _, kv := range strings.Split(query, "&") {
			if _, v, ok := strings.Cut(kv, "="); ok {
				out = append(out, v, unescape(v))
			}
		}
	}
	return out
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// ArgValues are the values given to flag in args (--flag v or --flag=v),
// read without the parser: to mask them before it runs, and to find the
// report's path and format when it failed.
func ArgValues(args []string, flag string) []string {
	var out []string
	for i, a := range args {
		if a == "--" {
			break
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			out = append(out, v)
		} else if a == flag && i+1 < len(args) {
			out = append(out, args[i+1])
		}
	}
	return out
}

// With adds values worth masking.
func (m Secrets) With(values ...string) Secrets {
	for _, s := range values {
		for _, v := range []string{s, strings.TrimSpace(s)} {
			// A bare token prefix (whsec_, glpat-) hides nothing: it is
			// the word the fixes name, not a secret.
			if len(v) >= MinSecret && !slices.Contains(tokenPrefixes, lowerASCII(v)) && !slices.Contains(m, v) {
				m = append(m, v)
			}
		}
	}
	return m
}

// Mask masks every secret in s: the known ones, whole or echoed in part
// (their first prefixLen characters, where a server cut a long secret
// short), and anything shaped like a GitLab token, known or not: a token
// pasted into the wrong variable is quoted by that variable's error.
//
// Only where the secret stands: a short secret that is a word, letters
// only (a URL's password "pass"), is masked where it stands whole, not
// inside a word ("password") nor as a word of a sentence, between two
// spaces ("or pass --token": what echoes a value quotes it or leaves it in
// its URL); a long secret's first characters only where the text stops
// after them (the end, an ellipsis, a space or a quote), not where a
// longer word merely shares them (a delivery id "2b2c8c6e-try-serve-0001"
// and the secret "try-serve-webhook-secret"). Any other secret is masked
// wherever it stands.
func (m Secrets) Mask(s string) string {
	for _, secret := range m {
		switch {
		case len(secret) >= minPrefixed:
			s = maskOne(s, secret, anywhere)
			s = maskOne(s, secret[:prefixLen], cutAfter)
		case isWord(secret):
			s = maskOne(s, secret, standsWhole)
		default:
			s = maskOne(s, secret, anywhere)
		}
	}
	return maskTokenShaped(s)
}

// where says whether the match s[i:j] is one to mask.
type where func(s string, i, j int) bool

func anywhere(string, int, int) bool { return true }

// standsWhole: no letter or digit touches the match on either side, and it
// is not a word between two spaces.
func standsWhole(s string, i, j int) bool {
	if i > 0 && j < len(s) && s[i-1] == ' ' && s[j] == ' ' {
		return false
	}
	return (i == 0 || !isAlnum(s[i-1]) || !isAlnum(s[i])) && (j == len(s) || !isAlnum(s[j]) || !isAlnum(s[j-1]))
}

// cutAfter: the text stops after the match, as it does where a server cut
// a value short: the end, or a character no token goes on with (an
// ellipsis, a space, a quote; "." too, for "...").
func cutAfter(s string, _, j int) bool {
	return j == len(s) || !(isAlnum(s[j]) || s[j] == '-' || s[j] == '_')
}

// isWord: ASCII letters only.
func isWord(s string) bool {
	for i := range len(s) {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// A secret of minPrefixed bytes or more is also masked where only its
// first prefixLen bytes stand: a server that echoes "glpat-Rk7Wq2Zx…" or a
// cut elsewhere must not leave that much of it.
const (
	minPrefixed = 16
	prefixLen   = 10
)

// tokenPrefixes are GitLab's token prefixes (personal, deploy, runner,
// CI/CD job, pipeline trigger, feed, OAuth application, incoming mail,
// agent, SCIM, feature flags, workspace, runner registration) and Standard
// Webhooks' signing secret prefix.
var tokenPrefixes = []string{"glpat-", "gldt-", "glrt-", "glcbt-", "glptt-", "glft-", "gloas-", "glimt-",
	"glagent-", "glsoat-", "glffct-", "glwt-", "glrtr-", "whsec_"}

// minTokenTail is how many token characters after a prefix make it a token.
const minTokenTail = 8

// maskTokenShaped masks every run that starts with a token prefix and
// goes on with at least minTokenTail token characters, in any ASCII case.
// It runs on every label, so a string with no "gl" or "wh" in it is
// returned before anything is allocated.
func maskTokenShaped(s string) string {
	if !mayHoldToken(s) {
		return s
	}
	folded := lowerASCII(s)
	for _, p := range tokenPrefixes {
		if !strings.Contains(folded, p) {
			continue
		}
		var b strings.Builder
		rest, restFolded := s, folded
		for {
			i := strings.Index(restFolded, p)
			if i < 0 {
				b.WriteString(rest)
				break
			}
			end := i + len(p)
			for end < len(rest) && isTokenChar(rest[end]) {
				end++
			}
			b.WriteString(rest[:i])
			if end-(i+len(p)) >= minTokenTail {
				b.WriteString(Replacement)
			} else {
				b.WriteString(rest[i:end])
			}
			rest, restFolded = rest[end:], restFolded[end:]
		}
		s = b.String()
		folded = lowerASCII(s)
	}
	return s
}

// mayHoldToken is false when s is too short for a token or holds no "gl"
// or "wh" (every prefix starts with one), in any ASCII case.
func mayHoldToken(s string) bool {
	if len(s) < len("gldt-")+minTokenTail {
		return false
	}
	for i := 0; i+1 < len(s); i++ {
		c, d := s[i]|0x20, s[i+1]|0x20
		if c == 'g' && d == 'l' || c == 'w' && d == 'h' {
			return true
		}
	}
	return false
}

func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+' || c == '/' || c == '='
}

// Masks masks every string of a list, reusing it when nothing changes.
func (m Secrets) Masks(list []string) []string {
	var out []string
	for i, s := range list {
		if masked := m.Mask(s); masked != s {
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

// Clip is an untrusted value for a message: masked, then made printable
// and cut to n runes. The order matters: a cut first could leave a
// secret's first characters where the mask no longer finds it whole.
func (m Secrets) Clip(s string, n int) string { return printable.Truncate(m.Mask(s), n) }

// Quote is Clip in quotes.
func (m Secrets) Quote(s string, n int) string {
	// A quote inside is escaped, so that `"frontend"` given as a value
	// reads "\"frontend\"", not ""frontend"".
	return `"` + strings.ReplaceAll(m.Clip(s, n), `"`, `\"`) + `"`
}

// maskOne replaces secret in s in any ASCII case: kong lowercases a bad
// bool value before quoting it, so a token pasted into
// ECHOES_REQUIRE_EFFORT would otherwise reach the log in lower case.
func maskOne(s, secret string, at where) string {
	if secret == "" {
		return s
	}
	folded, want := lowerASCII(s), lowerASCII(secret)
	if !strings.Contains(folded, want) {
		return s
	}
	var b strings.Builder
	from := 0 // s[:from] is written
	for i := 0; ; {
		k := strings.Index(folded[i:], want)
		if k < 0 {
			break
		}
		k += i
		if at(s, k, k+len(want)) {
			b.WriteString(s[from:k])
			b.WriteString(Replacement)
			from = k + len(want)
			i = from
		} else {
			i = k + 1
		}
	}
	if from == 0 {
		return s
	}
	b.WriteString(s[from:])
	return b.String()
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

// Writer masks the secrets in what passes through w. It suits writers that
// receive one whole entry a call (the standard logger, slog's handlers), so
// that no secret is split across writes.
func Writer(w io.Writer, m Secrets) io.Writer { return &writer{w: w, m: m} }

type writer struct {
	w io.Writer
	m Secrets
}

func (r *writer) Write(p []byte) (int, error) {
	if _, err := io.WriteString(r.w, r.m.Mask(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
