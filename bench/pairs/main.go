// Command pairs times two commands as interleaved pairs and judges them on
// medians, so that a machine slowing down mid-run (a shared CI runner, a
// neighbour's build) hits both alike instead of whichever ran at the time:
//
//	pairs -runs 30 -a-name ours -a-exec -a '/tmp/echoes-labels' \
//	      -b-name 'curl|jq' -b 'curl -sf … | jq -e …'
//
// Each round runs A and B back to back, A first in even rounds and B first
// in odd ones (A B, B A, A B, …: neither always gets the warmer cache).
// A command runs through `/bin/sh -c` (as a CI job's script does) unless
// -a-exec / -b-exec says to run it directly (split on spaces, no quoting,
// like hyperfine -N). When either runs through the shell, every round also
// runs `/bin/sh -c :` and the median of those is the shell's start-up,
// subtracted from a shell-run command's times (hyperfine does the same with
// a mean). Every run must exit 0, or pairs fails: a command that no longer
// does its job is not timed.
//
// It prints one JSON object: per command the median, min and max wall time
// and the median CPU time (user+system of the process and the children it
// waited for, from wait4; the shell's median CPU subtracted likewise), all
// in ms, the shell's medians, the ratio of the
// medians A/B, and the median of the per-round ratios A_i/B_i ("ratio",
// the figure to judge: each round's two runs share the machine's state).
// Exit 0 on success, 1 when a run fails, 2 on misuse.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"
)

type command struct {
	name     string
	line     string
	exec     bool // run directly, not through /bin/sh -c
	wall     []float64
	cpu      []float64
	shell    float64 // subtracted from each run: the shell's median start-up, or 0
	shellCPU float64 // the same for CPU time
}

func (c *command) argv() []string {
	if c.exec {
		return strings.Fields(c.line)
	}
	return []string{"/bin/sh", "-c", c.line}
}

// run runs argv once, its output discarded, and returns its wall time and
// CPU time (user+system, its waited-for children included) in ms.
func run(ctx context.Context, argv []string, timeout time.Duration) (wall, cpu float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// Stdin, Stdout and Stderr nil: /dev/null.
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	err = cmd.Wait()
	wall = float64(time.Since(start).Nanoseconds()) / 1e6
	if err != nil {
		if ctx.Err() != nil {
			return 0, 0, fmt.Errorf("%q: timed out after %s", strings.Join(argv, " "), timeout)
		}
		return 0, 0, fmt.Errorf("%q: %w", strings.Join(argv, " "), err)
	}
	ps := cmd.ProcessState
	cpu = float64((ps.UserTime() + ps.SystemTime()).Nanoseconds()) / 1e6
	return wall, cpu, nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

type stats struct {
	Name     string  `json:"name"`
	Command  string  `json:"command"`
	Shell    bool    `json:"through_shell"`
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
	CPUMS    float64 `json:"cpu_median_ms"`
}

func (c *command) stats() stats {
	wall := make([]float64, len(c.wall))
	for i, w := range c.wall {
		wall[i] = w - c.shell
	}
	cpu := make([]float64, len(c.cpu))
	for i, t := range c.cpu {
		cpu[i] = t - c.shellCPU
	}
	return stats{
		Name:     c.name,
		Command:  c.line,
		Shell:    !c.exec,
		MedianMS: round(median(wall), 3),
		MinMS:    round(slices.Min(wall), 3),
		MaxMS:    round(slices.Max(wall), 3),
		CPUMS:    round(median(cpu), 3),
	}
}

type result struct {
	Runs           int     `json:"runs"`
	Warmup         int     `json:"warmup"`
	A              stats   `json:"a"`
	B              stats   `json:"b"`
	ShellMedianMS  float64 `json:"shell_median_ms,omitempty"`
	ShellCPUMS     float64 `json:"shell_cpu_median_ms,omitempty"`
	Ratio          float64 `json:"ratio"`
	RatioOfMedians float64 `json:"ratio_of_medians"`
	CPURatio       float64 `json:"cpu_ratio"`
}

func main() {
	a, b := &command{}, &command{}
	runs := flag.Int("runs", 30, "rounds `N`; each runs A and B once (and sh -c : when a command uses the shell)")
	warmup := flag.Int("warmup", 3, "untimed rounds first")
	timeout := flag.Duration("timeout", 60*time.Second, "longest a single run may take")
	flag.StringVar(&a.line, "a", "", "command A (the one judged: the ratio is A/B)")
	flag.StringVar(&b.line, "b", "", "command B")
	flag.StringVar(&a.name, "a-name", "A", "A's name in the output")
	flag.StringVar(&b.name, "b-name", "B", "B's name in the output")
	flag.BoolVar(&a.exec, "a-exec", false, "run A directly (split on spaces), not through /bin/sh -c")
	flag.BoolVar(&b.exec, "b-exec", false, "run B directly (split on spaces), not through /bin/sh -c")
	flag.Parse()
	if a.line == "" || b.line == "" || *runs < 1 || *warmup < 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: pairs [-runs N] [-warmup N] [-a-name NAME] [-a-exec] -a CMD [-b-name NAME] [-b-exec] -b CMD")
		os.Exit(2)
	}
	for _, c := range []*command{a, b} {
		if c.exec && len(c.argv()) == 0 {
			fmt.Fprintf(os.Stderr, "pairs: %s is empty\n", c.name)
			os.Exit(2)
		}
	}
	res, err := measure(context.Background(), a, b, *runs, *warmup, *timeout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pairs:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "pairs:", err)
		os.Exit(1)
	}
}

func measure(ctx context.Context, a, b *command, runs, warmup int, timeout time.Duration) (result, error) {
	shell := &command{name: "sh -c :", line: ":"}
	useShell := !a.exec || !b.exec
	for i := range warmup + runs {
		order := []*command{a, b}
		if i%2 == 1 {
			order = []*command{b, a}
		}
		if useShell {
			order = append(order, shell)
		}
		for _, c := range order {
			wall, cpu, err := run(ctx, c.argv(), timeout)
			if err != nil {
				return result{}, fmt.Errorf("%s: %w", c.name, err)
			}
			if i < warmup {
				continue
			}
			c.wall = append(c.wall, wall)
			c.cpu = append(c.cpu, cpu)
		}
	}
	res := result{Runs: runs, Warmup: warmup}
	if useShell {
		s, sc := median(shell.wall), median(shell.cpu)
		res.ShellMedianMS = round(s, 3)
		res.ShellCPUMS = round(sc, 3)
		for _, c := range []*command{a, b} {
			if !c.exec {
				c.shell, c.shellCPU = s, sc
			}
		}
	}
	ratios := make([]float64, runs)
	for i := range runs {
		ratios[i] = (a.wall[i] - a.shell) / (b.wall[i] - b.shell)
	}
	res.A, res.B = a.stats(), b.stats()
	if res.B.MedianMS <= 0 || res.B.CPUMS <= 0 {
		return result{}, errors.New(b.name + " takes no time once the shell's start-up is subtracted: nothing to compare with")
	}
	res.Ratio = round(median(ratios), 3)
	res.RatioOfMedians = round(res.A.MedianMS/res.B.MedianMS, 3)
	res.CPURatio = round(res.A.CPUMS/res.B.CPUMS, 3)
	return res, nil
}
