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
	"gitlab.com/echoeshq/echoes-labels/version"
)

// revision is the commit the binary is built from, stamped where Go cannot
// read it from the repository (the image's build): -ldflags
// "-X main.revision=0dfcaec". The release itself is version.Number.
var revision = ""

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

// buildVersion is the release and, when known, the commit:
// "2.0.0 (0dfcaec)".
func buildVersion() string {
	info, _ := debug.ReadBuildInfo()
	return version.String(revision, info)
}
