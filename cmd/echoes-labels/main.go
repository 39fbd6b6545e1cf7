// Command echoes-labels checks a GitLab merge request's Echoes labels.
package main

import (
	"os"
	"runtime/debug"

	"github.com/mattn/go-isatty"

	"gitlab.com/echoeshq/echoes-labels/cli"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Deps{
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Env:        cli.EnvFrom(os.LookupEnv),
		IsTerminal: isatty.IsTerminal(os.Stdout.Fd()),
		Version:    buildVersion(),
	}))
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "dev"
}
