// Package app is the echoes-labels command line: the kong application with
// its sibling commands, the check (package checkcmd, the default), the
// service and its one-shot sweep (package serve); the binding of their flags to environment
// variables; and the one place where an error becomes its cause line, its
// fix line and the process's exit code.
package app

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/checkcmd"
	"gitlab.com/echoeshq/echoes-labels/exit"
	"gitlab.com/echoeshq/echoes-labels/mask"
	"gitlab.com/echoeshq/echoes-labels/reconcile"
	"gitlab.com/echoeshq/echoes-labels/serve"
	"gitlab.com/echoeshq/echoes-labels/settings"
)

// Deps are what differs between a real run and a test: the process's
// edges. They are the check's, which needs all of them; serve takes stderr.
type Deps = checkcmd.Deps

// commands is the command line: the check, which is the default command;
// the service that keeps the check's verdict in step with the labels; and
// one sweep of that service, for those with nowhere to run it.
type commands struct {
	Check     checkcmd.Command  `cmd:"" default:"withargs" help:"${description}"`
	Serve     serve.Command     `cmd:"" help:"Receive GitLab's webhooks and status check requests and make the label job's verdict follow the labels within seconds (docs/SERVE.md)."`
	Reconcile reconcile.Command `cmd:"" help:"Look once at the open merge requests of --watch, retry the label jobs whose verdict no longer follows the labels, then exit: for a schedule or a CronJob (docs/SERVE.md)."`
	Version   kong.VersionFlag  `help:"Print the version and exit."`
}

// checkOnly is the command line as a CI check sees it. Building kong's
// model of all three commands, help text interpolated, is most of what a
// check does after the process starts (bench/RESULTS.md); a run that names
// no other command and asks for no help parses this one instead, with the
// same flags, variables and errors.
type checkOnly struct {
	Check   checkcmd.Command `cmd:"" default:"withargs" help:"${description}"`
	Version kong.VersionFlag `help:"Print the version and exit."`
}

// otherCommands are the commands besides the check, by name: the one list
// the routing below reads.
var otherCommands = []string{"serve", "reconcile"}

// needsAll is true when args may name another command, or ask for help,
// which lists every command.
func needsAll(args []string) bool {
	for _, a := range args {
		switch {
		case a == "--":
			return false
		case a == "help" || a == "--help" || a == "-h" || slices.Contains(otherCommands, a):
			return true
		}
	}
	return false
}

const description = "Checks that a GitLab merge request carries the labels Echoes needs: at least one echoes/intent… or echoes/initiative… label, and optionally one echoes/effort… label sized XS to XL.\n\n" +
	"Exit codes: 0 pass (or nothing to check), 1 labels missing or invalid, 2 configuration or usage error, 3 GitLab API error, 4 labels missing but not enforced (a warning), 130 cancelled.\n\n" +
	"The service that retries the job when labels change: echoes-labels serve --help; one sweep of the open merge requests, for a schedule: echoes-labels reconcile --help."

// Main parses args, runs the chosen command and returns the exit code. A
// command that can block also ends when the job is cancelled (SIGTERM,
// Ctrl-C; see listens).
func Main(ctx context.Context, args []string, d Deps) (code int) {
	secrets := mask.FromEnv(d.Env, args)
	var cli commands
	var grammar any = &cli
	check := &cli.Check
	if !needsAll(args) {
		only := &checkOnly{}
		grammar, check = only, &only.Check
	}
	var env *envBinding
	exited := false
	parser, err := kong.New(grammar,
		kong.Name("echoes-labels"),
		kong.Description(description),
		kong.Writers(d.Stdout, d.Stderr), // help and version only: errors come back to us
		kong.Vars{"version": "echoes-labels " + d.Version, "docs_url": settings.DefaultDocsURL, "description": description},
		kong.Exit(func(int) { exited = true; panic(exitSignal{}) }),
		kong.Resolvers(kong.ResolverFunc(func(ctx *kong.Context, p *kong.Path, f *kong.Flag) (any, error) { return env.resolve(ctx, p, f) })),
		kong.ValueFormatter(func(v *kong.Value) string { return env.help(v) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
	)
	if err != nil {
		return report(d.Stderr, secrets, fmt.Errorf("internal error: %w", err))
	}
	env = bindEnv(parser.Model, d.Env)
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(exitSignal); !ok || !exited {
				panic(r)
			}
			code = exit.Pass // kong exits only after --help or --version
		}
	}()
	kctx, err := parser.Parse(helpArgs(args))
	if err != nil {
		// Any argument may be a secret pasted in the wrong place: the
		// parser's message, which quotes it, is masked with them all. Our
		// own fix is not, or an argument such as "help" masks its words.
		e := &exit.Error{Code: exit.Config, Cause: secrets.With(secretLike(positional(args))...).Mask(usageMessage(err)),
			Fix: usageFix(args)}
		if len(args) == 0 || !slices.Contains(otherCommands, args[0]) {
			// The check's reports say why there is no verdict; where they
			// go is read from the arguments and variables as given.
			checkcmd.ReportError(d.Stdout, cmp.Or(lastArg(args, "--junit"), env.get("junit")),
				cmp.Or(lastArg(args, "--dotenv"), env.get("dotenv")),
				cmp.Or(lastArg(args, "--format"), env.get("format")), secrets.Clip(e.Cause, exit.MaxCause), e.Fix)
		}
		return report(d.Stderr, secrets, e)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(memoryLimit(kctx.Command()))
	}
	if listens(kctx.Command(), check) {
		// GitLab cancels a job with SIGTERM (SIGKILL follows), a person
		// with Ctrl-C. stop (signal.Stop) runs before the process exits.
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	switch kctx.Command() {
	case "serve":
		return report(d.Stderr, secrets, cli.Serve.Run(ctx, d.Stderr, secrets))
	case "reconcile":
		return report(d.Stderr, secrets, cli.Reconcile.Run(ctx, d.Stderr, secrets))
	}
	return report(d.Stderr, secrets, check.Run(ctx, d, secrets))
}

type exitSignal struct{}

// memoryLimit is the garbage collector's soft limit for a command, unless
// GOMEMLIMIT says otherwise. It bounds no live memory (gitlabapi's 4 MiB
// answer cap and serve's body budgets do): near it, the collector runs
// early instead of letting garbage double the heap.
//   - check: 40 MiB. Decoding the densest 4 MiB answer makes tens of MiB
//     of garbage; at this limit the check stays under 100 MiB of RSS
//     (bench/memory.sh), and a plain check's heap of a few MiB never
//     nears it.
//   - serve: 100 MiB, under deploy/'s 128 MiB with room for the runtime;
//     its bodies in flight are budgeted to 48 MiB.
//   - reconcile: 100 MiB too. It runs serve's workers, reading several
//     merge requests at once, under the same 128 MiB limit in deploy/; at
//     the check's 40 MiB, a few large answers read together would keep the
//     collector running without end.
func memoryLimit(command string) int64 {
	if command == "check" {
		return 40 << 20
	}
	return 100 << 20
}

// listens is true when the command parsed can block, and so must end when
// the job is cancelled: serve and reconcile always, a check unless it was
// given its labels (--labels calls no GitLab at all). Listening for signals
// starts a goroutine and a thread for it, a measured 4–10% of an offline
// check's whole run (bench/RESULTS.md).
func listens(command string, check *checkcmd.Command) bool {
	return command != "check" || check.Labels == nil
}

// report is the one place an error becomes two lines on stderr, its cause
// and its fix, and an exit code. An error whose story was told already
// (the check's report for exit 1) prints nothing.
func report(stderr io.Writer, secrets mask.Secrets, err error) int {
	e := exit.From(err)
	if e.Cause == "" {
		return e.Code
	}
	fmt.Fprintf(stderr, "echoes-labels: %s\n", secrets.Clip(e.Cause, exit.MaxCause))
	if e.Fix != "" {
		fmt.Fprintf(stderr, "  fix: %s\n", secrets.Mask(e.Fix))
	}
	return e.Code
}

// usageMessage is the parser's complaint, said the way a person reads it.
func usageMessage(err error) string {
	msg := err.Error()
	// kong: `--labels: expected string value but got "EOL" (<EOL>)`.
	// A repeatable flag (--labels) says it another way:
	// `--labels: missing value, expecting "<arg>"`.
	for _, eol := range []string{": expected string value but got \"EOL\"", ": missing value, expecting "} {
		if flag, _, ok := strings.Cut(msg, eol); ok {
			return flag + " needs a value"
		}
	}
	// kong offers -h, the one short flag, for any unknown short one:
	// `unknown flag -l, did you mean "-h"?`. The flags are long ones.
	if rest, ok := strings.CutPrefix(msg, "unknown flag -"); ok && len(rest) > 1 && rest[0] != '-' && strings.HasSuffix(rest, `, did you mean "-h"?`) {
		return "unknown flag -" + strings.TrimSuffix(rest, `, did you mean "-h"?`) + ": the only short flag is -h (help); the others are long, such as --labels"
	}
	return msg
}

// commandNames are the words that name a command.
var commandNames = append([]string{"check", "help"}, otherCommands...)

// usageFix says what to do about a command line the parser refused: the
// command meant, when the first word is a typo of one; the one value
// --labels takes, when labels were split by a space; else the help.
func usageFix(args []string) string {
	pos := positional(args)
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") && !slices.Contains(commandNames, args[0]) {
		for _, c := range commandNames {
			if near(args[0], c) {
				return fmt.Sprintf("did you mean %q? The commands are check (the default), serve and reconcile: see echoes-labels --help", "echoes-labels "+c)
			}
		}
	}
	if len(args) > 0 && (args[0] == "version" || args[0] == "-v" || args[0] == "-V") {
		return "to print the version: echoes-labels --version"
	}
	if len(mask.ArgValues(args, "--labels")) > 0 && len(pos) > 1 {
		return "--labels takes one comma-separated value: quote it, e.g. --labels 'echoes/intent/feature,backend'"
	}
	return "see echoes-labels --help for the flags and their environment variables"
}

// near is true for a word one or two typed characters away from want.
func near(word, want string) bool {
	return word != want && len(word) >= 3 && check.EditDistance(word, want, 3) <= 2
}

// secretLike are the arguments that may be a secret pasted in the wrong
// place: long, and of the characters tokens and secrets are made of. A
// typo such as "serv" or a label stays readable; a token-shaped one is
// masked whatever its length (mask).
func secretLike(args []string) []string {
	var out []string
	for _, a := range args {
		letters, digits := false, false
		plain := len(a) >= 16 && !strings.ContainsFunc(a, func(r rune) bool {
			switch {
			case 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
				letters = true
			case '0' <= r && r <= '9':
				digits = true
			case r == '-' || r == '_' || r == '+' || r == '=' || r == '.':
			default:
				return true
			}
			return false
		})
		if plain && letters && digits {
			out = append(out, a)
		}
	}
	return out
}

// helpArgs makes "echoes-labels --help" the check's help, with its flags:
// the check is the default command, and the one people ask about.
func helpArgs(args []string) []string {
	if len(args) > 0 && (args[0] == "check" || slices.Contains(otherCommands, args[0])) {
		return args
	}
	if len(args) > 0 && args[0] == "help" {
		return append([]string{"check", "--help"}, args[1:]...)
	}
	for _, a := range args {
		if a == "--help" || a == "-h" {
			return append([]string{"check"}, args...)
		}
		if a == "--" {
			break
		}
	}
	return args
}

// positional are the arguments that are not flags, for masking.
func positional(args []string) []string {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			out = append(out, a)
		}
	}
	return out
}

// lastArg is the value a repeated flag ends with, or "".
func lastArg(args []string, flag string) string {
	vs := mask.ArgValues(args, flag)
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}
