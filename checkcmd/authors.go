package checkcmd

import (
	"fmt"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/mask"
)

// parseAuthors reads --skip-authors: comma-separated globs over a whole
// GitLab username, compared in lower case, where * matches any run of
// characters. A username holds letters, digits, _, - and . only, so any
// other character is a mistake worth saying (a space inside, a quote).
func parseAuthors(s string, m mask.Secrets) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" {
			continue
		}
		if strings.ContainsFunc(p, func(r rune) bool {
			return (r < 'a' || r > 'z') && (r < '0' || r > '9') && !strings.ContainsRune("_-.*", r)
		}) {
			return nil, exit.BadSetting("--skip-authors", fmt.Sprintf("--skip-authors/ECHOES_SKIP_AUTHORS has %s, which no GitLab username matches", m.Quote(p, 60)),
				"give comma-separated usernames, * matching any characters, such as renovate*,dependabot*")
		}
		out = append(out, p)
	}
	return out, nil
}

// skippedAuthor is the first pattern that matches username, or "".
func skippedAuthor(patterns []string, username string) string {
	u := strings.ToLower(username)
	for _, p := range patterns {
		if u != "" && globMatch(p, u) {
			return p
		}
	}
	return ""
}

// globMatch matches s as a whole against pattern, where * stands for any
// run of characters (none included) and every other character for itself.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}
