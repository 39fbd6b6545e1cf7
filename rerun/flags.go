package rerun

import (
	"strings"

	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/mask"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

// Flags are the flags serve and reconcile both read, declared once: how
// to reach GitLab, the label job, the watch list and the label rules.
type Flags struct {
	settings.GitLab `embed:"" set:"token_help=Access token with the api scope."`
	JobName         string   `name:"job-name" env:"ECHOES_JOB_NAME" default:"echoes-labels" help:"Name of the label job to retry."`
	Watch           []string `name:"watch" env:"ECHOES_WATCH" sep:"," placeholder:"GROUP|PROJECT" help:"Required. Groups and projects ${watch_help}: paths, group:42 or project:42 (docs/SERVE.md)."`
	settings.Rules  `embed:""`

	// the worker's
	StatusCheckName string          `name:"status-check-name" env:"ECHOES_STATUS_CHECK_NAME" default:"echoes-labels" help:"The external status checks to answer."`
	RetryForks      settings.Switch `name:"retry-forks" env:"ECHOES_RETRY_FORKS" help:"Also act on merge requests from forks: a retry runs the fork's code as the bot."`
}

// The settings a configuration error of the shared flags names.
const (
	settingJobName         = "--job-name"
	settingStatusCheckName = "--status-check-name"
)

// Config checks the shared settings into cfg, reporting each bad one to
// bad.
func (c *Flags) Config(cfg *Config, secrets mask.Secrets, bad func(error)) {
	token, err := c.CleanToken()
	switch {
	case err != nil:
		bad(err)
	case token == "":
		bad(exit.BadSetting(settings.SettingToken, "--token/ECHOES_GITLAB_TOKEN (or GITLAB_TOKEN) is not set",
			"create a project, group or personal access token with the api scope and pass it in ECHOES_GITLAB_TOKEN"))
	}
	cfg.Token = token
	if u, err := gitlabapi.ParseBaseURL(c.GitLabURL); err != nil {
		bad(err)
	} else {
		cfg.GitLabURL = u.String()
	}
	cfg.CAFile = c.CAFile
	cfg.JobName = strings.TrimSpace(c.JobName)
	if cfg.JobName == "" {
		bad(exit.BadSetting(settingJobName, "--job-name/ECHOES_JOB_NAME is empty",
			"give the name of the label job in .gitlab-ci.yml (echoes-labels by default)"))
	}
	if cfg.Rules, cfg.DocsURL, err = c.Options(secrets); err != nil {
		bad(err)
	}
	if cfg.Watch, err = ParseWatch(c.Watch); err != nil {
		bad(err)
	}
	// the worker's
	cfg.StatusCheckName = strings.TrimSpace(c.StatusCheckName)
	if cfg.StatusCheckName == "" {
		bad(exit.BadSetting(settingStatusCheckName, "--status-check-name/ECHOES_STATUS_CHECK_NAME is empty",
			"give the name of the external status check the service answers (echoes-labels by default)"))
	}
	var err2 error
	if cfg.RetryForks, err2 = c.RetryForks.Value("--retry-forks/ECHOES_RETRY_FORKS", secrets); err2 != nil {
		bad(err2)
	}
}
