package report

import (
	"fmt"
	"io"
	"strings"
	"unicode"

	"gitlab.com/echoeshq/echoes-labels/check"
)

// The dotenv report (--dotenv), for later jobs of the pipeline: GitLab's
// artifacts:reports:dotenv turns each line into a variable. GitLab reads it
// with Ci::ParseDotenvArtifactService: every line must be KEY=VALUE (the
// first = splits; a line without one, an empty line included, fails the
// whole file), key and value are stripped of surrounding blanks, the value
// is taken as is (no quotes, no escapes) and expanded later like any
// variable ($NAME), and the file must stay under dotenv_size (5,120 bytes
// by default) with at most dotenv_variables (20) variables. So we write 4
// fixed keys, one line each, and clean each label name: a line break (or
// any control character) would start a variable of the label's choosing,
// a comma would split a name in two, a $ would be expanded: each becomes _.
// A list stops before dotenvListBytes, whole names only, so the file stays
// far below the limit whatever the labels.

// Dotenv variable names: a public interface, like the JSON fields.
const (
	DotenvVerdict    = "ECHOES_LABELS_VERDICT"
	DotenvIntent     = "ECHOES_LABELS_INTENT"
	DotenvInitiative = "ECHOES_LABELS_INITIATIVE"
	DotenvEffort     = "ECHOES_LABELS_EFFORT"
)

// dotenvListBytes bounds each list: 4 lines of it and their keys stay
// under GitLab's default 5,120 bytes.
const dotenvListBytes = 1000

// DotenvValues is what the dotenv report says.
type DotenvValues struct {
	Verdict                    string // pass, fail, warn, skipped, error
	Intent, Initiative, Effort []string
}

// DotenvOf is a result's dotenv values.
func DotenvOf(r Result) DotenvValues {
	names := func(ls []check.Label) []string {
		out := make([]string, len(ls))
		for i, l := range ls {
			out[i] = l.Name
		}
		return out
	}
	v := r.Verdict
	return DotenvValues{Verdict: r.VerdictName(), Intent: names(v.Intents), Initiative: names(v.Initiatives), Effort: names(v.Efforts)}
}

// Dotenv writes the four variables.
func Dotenv(w io.Writer, d DotenvValues) error {
	_, err := fmt.Fprintf(w, "%s=%s\n%s=%s\n%s=%s\n%s=%s\n",
		DotenvVerdict, dotenvName(d.Verdict), DotenvIntent, dotenvList(d.Intent),
		DotenvInitiative, dotenvList(d.Initiative), DotenvEffort, dotenvList(d.Effort))
	return err
}

// dotenvList joins cleaned names with commas, whole names only, within
// dotenvListBytes.
func dotenvList(names []string) string {
	var b strings.Builder
	for _, n := range names {
		n = dotenvName(n)
		if n == "" {
			continue
		}
		if b.Len()+len(n)+1 > dotenvListBytes {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
	}
	return b.String()
}

// dotenvName is a name as one dotenv value can hold it: valid UTF-8, no
// control or line-separating character, no comma, no $, no blank at its
// ends (GitLab would strip it).
func dotenvName(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == ',' || r == '$' {
			return '_'
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}
