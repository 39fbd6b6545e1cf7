// Command echoes-labels checks a GitLab merge request's Echoes labels.
package main

import (
	"context"
	"log"
	"os"
	"runtime/debug"

	"github.com/mattn/go-isatty"

	"gitlab.com/echoeshq/echoes-labels/app"
	"gitlab.com/echoeshq/echoes-labels/cienv"
	"gitlab.com/echoeshq/echoes-labels/mask"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = ""

func main() {
	env := cienv.New(os.LookupEnv)
	// net/http logs every request header, the token's too, through the
	// standard logger under GODEBUG=http2debug=2.
	log.SetOutput(mask.Writer(os.Stderr, mask.FromEnv(env, os.Args[1:])))
	// app listens for SIGTERM and Ctrl-C when the command can block.
	code := app.Main(context.Background(), os.Args[1:], app.Deps{
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Env:        env,
		IsTerminal: isatty.IsTerminal(os.Stdout.Fd()),
		Version:    buildVersion(),
	})
	os.Exit(code)
}

// buildVersion is the stamped version; else the module's version (go
// install …@v1.2.3); else the VCS revision the binary was built from, so
// that a binary built from a clone still says what it is.
func buildVersion() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	return versionOf(info)
}

func versionOf(info *debug.BuildInfo) string {
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "-dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "dev"
	}
	return "dev-" + rev + modified
}
