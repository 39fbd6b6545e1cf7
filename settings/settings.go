// Package settings declares, once, the flags both commands share: how to
// reach GitLab (settings.GitLab) and which labels pass (settings.Rules),
// with their variables, defaults, validation and fixes. Commands embed them
// (kong's embed), so that token precedence, prefix defaults and the fixes
// for a bad value live here and nowhere else.
package settings

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/cienv"
	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/mask"
)

// DefaultDocsURL is Echoes' public documentation, the base of every details link.
const DefaultDocsURL = check.DefaultDocsURL

// Fixes shared by the commands.
const (
	FixPrefixes = "leave a prefix unset for the Echoes default, or give each kind its own label prefix"
	FixToken    = "check the value of ECHOES_GITLAB_TOKEN (or --token): paste the token alone, without quotes, spaces or line breaks"
)

// Setting names, as configuration errors report them.
const (
	SettingToken   = "--token"
	SettingDocsURL = "--docs-url"
)

// GitLab is how a command reaches GitLab. The token's help is the
// command's (set token_help on the embedding field); its variables are
// cienv.TokenVars, in that order.
type GitLab struct {
	GitLabURL string `name:"gitlab-url" env:"ECHOES_GITLAB_URL,CI_API_V4_URL" default:"https://gitlab.com/api/v4" help:"GitLab API v4 root (or the instance's root URL)."`
	Token     string `name:"token" env:"ECHOES_GITLAB_TOKEN,GITLAB_TOKEN" placeholder:"TOKEN" help:"${token_help}"`
	CAFile    string `name:"ca-file" env:"CI_SERVER_TLS_CA_FILE" placeholder:"FILE" help:"PEM certificates to trust for GitLab, besides the system's."`
}

// CleanToken is the token as sent: line breaks and spaces at its ends are
// dropped (a token stored from a file often ends in a newline); one with a
// space or control character inside cannot be sent and is an error.
func (g GitLab) CleanToken() (string, error) { return CheckToken(strings.TrimSpace(g.Token)) }

// CheckToken refuses a token (the job token too) with a space or a control
// character inside: it cannot be sent in a header.
func CheckToken(t string) (string, error) {
	if strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", exit.BadSetting(SettingToken, "the token contains spaces or control characters, so it cannot be sent", FixToken)
	}
	return t, nil
}

// EmptyTokenVar names the first token variable that is set but empty, when
// no token came from anywhere: worth a notice, since the job token is then
// used instead of the one the user meant to set.
func EmptyTokenVar(env cienv.Env) string {
	for _, name := range cienv.TokenVars {
		if env.Empty(name) {
			return name
		}
	}
	return ""
}

// Rules are the label rules and the documentation the reports link to.
type Rules struct {
	RequireEffort    Switch `name:"require-effort" env:"ECHOES_REQUIRE_EFFORT" help:"Also require exactly one effort label sized XS, S, M, L or XL."`
	DocsURL          string `name:"docs-url" env:"ECHOES_DOCS_URL" default:"${docs_url}" help:"Documentation base for the details links (an absolute http(s) URL)."`
	IntentPrefix     string `name:"intent-prefix" env:"ECHOES_INTENT_PREFIX" default:"echoes/intent" help:"Label prefix of intents." group:"Label names"`
	InitiativePrefix string `name:"initiative-prefix" env:"ECHOES_INITIATIVE_PREFIX" default:"echoes/initiative" help:"Label prefix of initiatives." group:"Label names"`
	EffortPrefix     string `name:"effort-prefix" env:"ECHOES_EFFORT_PREFIX" default:"echoes/effort" help:"Label prefix of efforts." group:"Label names"`
}

// Options checks the rules and returns them, with the documentation base.
// The prefixes are printed (messages, fixes, the note), so a token pasted
// there is masked here, where they come in.
func (r Rules) Options(m mask.Secrets) (check.Options, string, error) {
	opts := check.Options{Prefixes: check.Prefixes{
		Intent: m.Mask(r.IntentPrefix), Initiative: m.Mask(r.InitiativePrefix), Effort: m.Mask(r.EffortPrefix)}}
	var err error
	if opts.RequireEffort, err = r.RequireEffort.Value("--require-effort/ECHOES_REQUIRE_EFFORT", m); err != nil {
		return opts, "", err
	}
	if err := opts.Prefixes.Validate(); err != nil {
		var pe *check.PrefixError
		setting := ""
		if errors.As(err, &pe) {
			setting = pe.Flag
		}
		return opts, "", exit.BadSetting(setting, err.Error(), FixPrefixes)
	}
	docs, err := DocsURL(r.DocsURL, m)
	return opts, docs, err
}

// DocsURL accepts one absolute http(s) URL with nothing around it: it is
// written into links in the log, the JUnit report and the merge request's
// note, where a space, a line break or markup would break out of the link.
func DocsURL(raw string, m mask.Secrets) (string, error) {
	s := strings.TrimSpace(raw)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || strings.ContainsRune(`<>"'\`+"`", r) }) {
		return "", exit.BadSetting(SettingDocsURL, fmt.Sprintf("--docs-url/ECHOES_DOCS_URL is %s, not one absolute http(s) URL", m.Quote(raw, 80)),
			"give the base of your documentation, such as "+DefaultDocsURL+" (or leave it unset)")
	}
	return strings.TrimRight(s, "/"), nil
}

// Switch is a bool flag that keeps a malformed value for validation, so
// that a bad one is reported like any other error, with its fix.
type Switch struct {
	on  bool
	bad *string
}

// Decode reads --flag alone, --flag=v, or the variable's value.
func (s *Switch) Decode(ctx *kong.DecodeContext) error {
	*s = Switch{on: true} // a flag standing alone: --comment
	if ctx.Scan.Peek().Type != kong.FlagValueToken {
		return nil
	}
	switch v := ctx.Scan.Pop().Value.(type) {
	case bool:
		s.on = v
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1", "yes":
		case "false", "0", "no", "":
			s.on = false
		default:
			s.on = false
			s.bad = &v
		}
	}
	return nil
}

// IsBool lets the flag stand alone: --comment.
func (s *Switch) IsBool() bool { return true }

// Value is the switch, or a configuration error naming it.
func (s Switch) Value(name string, m mask.Secrets) (bool, error) {
	if s.bad != nil {
		return false, exit.BadSetting(flagOf(name), fmt.Sprintf("%s is %s, not true or false", name, m.Quote(*s.bad, 40)), "give true or false (or leave it unset)")
	}
	return s.on, nil
}

// Duration is a Go duration that keeps a malformed value for validation.
type Duration struct {
	d   time.Duration
	bad *string
}

// Decode reads the duration, keeping what does not parse.
func (d *Duration) Decode(ctx *kong.DecodeContext) error {
	*d = Duration{}
	v := fmt.Sprint(ctx.Scan.Pop().Value)
	parsed, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		d.bad = &v
	}
	d.d = parsed
	return nil
}

// Value is the duration, or a configuration error naming it with a fix: a
// number without a unit gets "add a unit".
func (d Duration) Value(name string, m mask.Secrets) (time.Duration, error) {
	if d.bad == nil {
		return d.d, nil
	}
	fix := "give a Go duration with its unit, such as 30s or 2m"
	bad := m.Clip(strings.TrimSpace(*d.bad), 40)
	if _, err := time.ParseDuration(bad + "s"); err == nil {
		fix = fmt.Sprintf("add a unit: %ss for seconds, or %sm for minutes", bad, bad)
	}
	return 0, exit.BadSetting(flagOf(name), fmt.Sprintf("%s is %s, not a duration", name, m.Quote(*d.bad, 40)), fix)
}

// flagOf is the flag of a "--flag/VARIABLE" name.
func flagOf(name string) string {
	f, _, _ := strings.Cut(name, "/")
	return f
}
