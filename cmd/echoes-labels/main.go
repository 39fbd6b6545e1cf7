// Command echoes-labels checks a GitLab merge request's Echoes labels.
package main

import (
	"context"
	"log"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

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

// memoryLimit is a soft limit for the garbage collector. Decoding a large
// answer (gitlabapi caps it at 4 MiB) makes tens of MiB of garbage that, at
// the default GOGC, could double the heap before a collection: near this
// limit the collector runs early instead, which keeps the densest answer
// under 100 MiB of RSS (bench/memory.sh). It does not bound what is live
// (the body cap does), and a check's heap is otherwise a few MiB, so it
// costs nothing there. A GOMEMLIMIT in the environment wins.
const memoryLimit = 40 << 20

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(memoryLimit)
	}
	env := cienv.New(os.LookupEnv)
	// net/http logs every request header, the token's too, through the
	// standard logger under GODEBUG=http2debug=2.
	log.SetOutput(mask.Writer(os.Stderr, mask.FromEnv(env, os.Args[1:])))
	// GitLab cancels a job with SIGTERM (SIGKILL follows), a person with Ctrl-C.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], app.Deps{
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Env:        env,
		IsTerminal: isatty.IsTerminal(os.Stdout.Fd()),
		Version:    buildVersion(),
	})
	stop()
	os.Exit(code)
}

// buildVersion is the release and, when known, the commit:
// "2.0.0 (0dfcaec)".
func buildVersion() string {
	info, _ := debug.ReadBuildInfo()
	return version.String(revision, info)
}
