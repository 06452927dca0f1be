package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// readmeExample is one command of a README code block ("$ recompute ...")
// and what the block shows it printing.
type readmeExample struct {
	line int      // README line of the command
	args []string // after "recompute"
	want []string // the lines shown, in order (an example may leave lines out)
	// stopped lists the files the README shows a signal leaving
	// unconverted ("^C" in its output, then table rows "interrupted" or
	// "not started"); see readmeRun.
	stopped []string
}

// readmeSession is a README code block: the commands it shows, run one
// after another in one directory (a verify session: grad, rewrite, verify).
type readmeSession struct {
	line  int // README line of the first command
	steps []readmeExample
}

// readmeSessions returns the README's code blocks that show recompute
// commands. A "$ " line that does not run recompute (scripts/fetch-ort.sh:
// CI provides ONNX Runtime) is left out.
func readmeSessions(t *testing.T, readme string) []readmeSession {
	t.Helper()
	var out []readmeSession
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```" || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "$ ") {
			continue
		}
		var s readmeSession
		var cur *readmeExample
		j := i + 1
		for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			l := lines[j]
			if cmd, ok := strings.CutPrefix(l, "$ "); ok {
				cur = nil
				if k := strings.Index(cmd, " #"); k >= 0 {
					cmd = cmd[:k]
				}
				cmd, ok = strings.CutPrefix(strings.TrimSpace(cmd), "recompute ")
				if !ok {
					continue
				}
				args, err := readmeWords(cmd)
				if err != nil {
					t.Fatalf("README:%d: %v", j+1, err)
				}
				s.steps = append(s.steps, readmeExample{line: j + 1, args: args})
				cur = &s.steps[len(s.steps)-1]
				continue
			}
			if cur != nil {
				cur.want = append(cur.want, l)
			}
		}
		i = j
		if len(s.steps) > 0 {
			s.line = s.steps[0].line
			out = append(out, s)
		}
	}
	return out
}

// readmeWords splits a shell command line into words: spaces separate,
// single quotes keep everything literally, double quotes too (an example
// uses no escapes or variables; a backslash outside quotes is an error).
func readmeWords(cmd string) ([]string, error) {
	var words []string
	var w strings.Builder
	in, quote := false, rune(0)
	for _, r := range cmd {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			w.WriteRune(r)
		case r == '\'' || r == '"':
			quote, in = r, true
		case r == '\\':
			return nil, fmt.Errorf("a backslash outside quotes in %q", cmd)
		case r == ' ' || r == '\t':
			if in {
				words = append(words, w.String())
				w.Reset()
				in = false
			}
		default:
			w.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unclosed quote in %q", cmd)
	}
	if in {
		words = append(words, w.String())
	}
	return words, nil
}

// Run-dependent figures: seconds ("in 1.23 s", convert's ", 1.23 s", and a
// Markdown table's seconds column when it is the last or comes just before
// convert's status), and what
// verify measures in ONNX Runtime (peaks and times: see readmeMeasured).
var (
	readmeSeconds    = regexp.MustCompile(`(\bin|,) [0-9]+\.[0-9]+ s\b`)
	readmeLastColumn = regexp.MustCompile(`\| [0-9]+\.[0-9]+ \|( ok \|| skipped [^|]*\|)?$`)
	readmeMeasured   = regexp.MustCompile(`^(measured peak \(RSS growth\)|  of which the first run|time \(median of [0-9]+ (?:runs|rounds)\))\s+(\S+(?: [KMGT]iB|s| B)?)\s+(\S+(?: [KMGT]iB|s| B)?)\s+([0-9.]+)$`)
)

func readmeNormalise(s string) string {
	s = strings.TrimRight(readmeSeconds.ReplaceAllString(s, "$1 N s"), " ")
	if m := readmeMeasured.FindStringSubmatch(s); m != nil {
		return m[1] + " (measured)"
	}
	return readmeLastColumn.ReplaceAllString(s, "| N |$1")
}

// readmeMeasuredRatio returns the ratio of a verify line that shows a
// measured peak, and false for any other line.
func readmeMeasuredRatio(s string) (float64, bool) {
	m := readmeMeasured.FindStringSubmatch(s)
	if m == nil || strings.HasPrefix(m[1], "time") {
		return 0, false
	}
	r, err := strconv.ParseFloat(m[4], 64)
	return r, err == nil
}

// readmeMatches reports whether a printed line is the line the README
// shows: equal once run-dependent figures are normalised, or, when the
// README cuts the line short with "...", starting with what it shows.
func readmeMatches(want, got string) bool {
	w, g := readmeNormalise(want), readmeNormalise(got)
	if p, ok := strings.CutSuffix(w, "..."); ok && p != "" {
		return strings.HasPrefix(g, strings.TrimRight(p, " "))
	}
	return w == g
}

// readmeRatioSlack is how far a peak ratio that verify measures may be
// from the one the README shows: measured ratios of one model pair moved
// by up to 0.09 between this machine and CI's (googlenet, controlled).
const readmeRatioSlack = 0.12

// Every example in the README prints what the README shows, seconds
// aside: a changed number in an example, or a change in what the command
// prints, fails here. A peak that verify measures in ONNX Runtime varies
// from run to run and machine to machine: its line must be there, and its
// ratio within readmeRatioSlack of the README's.
func TestREADMEExamples(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	shared, err := filepath.Abs(filepath.Join("..", "..", "..", "shared"))
	if err != nil {
		t.Fatal(err)
	}
	sessions := readmeSessions(t, string(data))
	if len(sessions) < 5 {
		t.Fatalf("found %d README examples, want the inspect, plan, grad, rewrite and verify ones", len(sessions))
	}
	for _, s := range sessions {
		t.Run(fmt.Sprintf("%s_line%d", s.steps[len(s.steps)-1].args[0], s.line), func(t *testing.T) {
			dir := t.TempDir() // outputs (-o, --emit-schedule) land here
			readmeSetup(t, s.steps[0], dir)
			for _, e := range s.steps {
				if e.args[0] == "verify" {
					vtNeedORT(t)
				}
				readmeRun(t, e, dir, shared)
			}
		})
	}
}

// readmeRun runs one README command in dir and checks what it prints.
func readmeRun(t *testing.T, e readmeExample, dir, shared string) {
	t.Helper()
	args := make([]string, len(e.args))
	for i, a := range e.args {
		if rest, ok := strings.CutPrefix(a, "../shared/"); ok {
			if _, err := os.Stat(shared); err != nil {
				rwCorpus(t, "") // skips, or fails in CI
			}
			a = filepath.Join(shared, rest)
		}
		args[i] = a
	}
	t.Chdir(dir)
	code, stdout, stderr := rwRun(t, args...)
	cmd := "recompute " + strings.Join(e.args, " ")
	if code != 0 {
		t.Fatalf("README:%d: %s: exit %d: %s", e.line, cmd, code, stderr)
	}
	got := strings.Split(stdout, "\n")
	k := 0
	var stopped []string
	interrupted := false
	for _, w := range e.want {
		if strings.TrimSpace(w) == "..." {
			continue
		}
		if w == "^C" {
			interrupted = true
			continue
		}
		if interrupted {
			// The README shows a signal stopping the command: what
			// it printed before is checked against an uninterrupted
			// run, and after it only the rows of files that finished.
			// The files it shows unfinished lose their outputs below,
			// as the interrupted run would have left them.
			f := strings.Split(w, "|")
			if len(f) < 3 {
				continue
			}
			switch strings.TrimSpace(f[len(f)-2]) {
			case "ok":
			case "interrupted", "not started":
				stopped = append(stopped, strings.TrimSpace(f[1]))
				continue
			default:
				continue
			}
		}
		for k < len(got) && !readmeMatches(w, got[k]) {
			k++
		}
		if k == len(got) {
			t.Fatalf("README:%d: %s does not print (in this order)\n  %s\nit printed:\n%s", e.line, cmd, w, stdout)
		}
		if want, ok := readmeMeasuredRatio(w); ok {
			t.Logf("README:%d: measured %q (README: %q)", e.line, strings.TrimSpace(got[k]), strings.TrimSpace(w))
			if r, _ := readmeMeasuredRatio(got[k]); math.Abs(r-want) > readmeRatioSlack {
				t.Errorf("README:%d: %s measured\n  %s\nthe README shows\n  %s\n(ratios more than %.2f apart)", e.line, cmd, got[k], w, readmeRatioSlack)
			}
		}
		k++
	}
	if len(stopped) > 0 {
		out := ""
		for i, a := range args {
			if (a == "-o" || a == "--output") && i+1 < len(args) {
				out = args[i+1]
			}
		}
		if out == "" {
			t.Fatalf("README:%d: %s shows an interrupted run without -o", e.line, cmd)
		}
		for _, f := range stopped {
			if err := os.Remove(filepath.Join(dir, out, f)); err != nil {
				t.Fatalf("README:%d: %s: %v", e.line, cmd, err)
			}
		}
	}
}

// readmeSetup makes the input files an example names but cannot build
// with a recompute command of its own: convert's example runs on a
// directory "zoo" of three ResNet-50 training graphs (batch 8, 112x112,
// m1.onnx to m3.onnx), as its comment says.
func readmeSetup(t *testing.T, first readmeExample, dir string) {
	t.Helper()
	if len(first.args) < 2 || first.args[0] != "convert" || first.args[1] != "zoo" {
		return
	}
	zoo := filepath.Join(dir, "zoo")
	if err := os.MkdirAll(zoo, 0o755); err != nil {
		t.Fatal(err)
	}
	m1 := filepath.Join(zoo, "m1.onnx")
	if code, _, stderr := rwRun(t, "grad", "resnet50", "--batch", "8", "--size", "112", "-o", m1); code != 0 {
		t.Fatalf("grad: %s", stderr)
	}
	for _, m := range []string{"m2.onnx", "m3.onnx"} {
		rwCopy(t, m1, filepath.Join(zoo, m))
	}
}

// The README matcher pins every figure but what ORT measures, and reads a
// measured peak's ratio for the tolerance check.
func TestREADMEMatcher(t *testing.T) {
	for _, c := range []struct {
		want, got string
		match     bool
		ratio     float64 // of want; 0: not a measured peak
	}{
		{"simulated transient peak             703.36 MiB     287.60 MiB    0.409", "simulated transient peak             703.36 MiB     287.60 MiB    0.409", true, 0},
		{"simulated transient peak             703.36 MiB     287.60 MiB    0.409", "simulated transient peak             703.36 MiB     287.61 MiB    0.409", false, 0},
		{"measured peak (RSS growth)           802.78 MiB     448.33 MiB    0.558", "measured peak (RSS growth)             1.01 GiB     500.00 MiB    0.483", true, 0.558},
		{"  of which the first run            1000.21 MiB     624.38 MiB    0.624", "  of which the first run             990.00 MiB     600.00 MiB    0.606", true, 0.624},
		{"time (median of 1 runs)                 13.776s        22.090s    1.604", "time (median of 1 runs)                 12.000s        25.000s    2.083", true, 0},
		{"time (median of 1 runs)                 13.776s        22.090s    1.604", "time (median of 3 runs)                 12.000s        25.000s    2.083", false, 0},
		{"time (median of 3 rounds)                5.124s         5.266s    1.044", "time (median of 3 rounds)                4.900s         5.300s    1.082", true, 0},
		{"time (median of 3 rounds)                5.124s         5.266s    1.044", "time (median of 3 runs)                  4.900s         5.300s    1.082", false, 0},
		{"session: 1 thread(s), graph optimisations off, arena and memory pattern off, sequential; ...", "session: 1 thread(s), graph optimisations off, arena and memory pattern off, sequential; memory: ...", true, 0},
		{"session: 1 thread(s), graph optimisations off; ...", "session: 2 thread(s), graph optimisations off; x", false, 0},
		{"  wrote           r50.onnx (97.48 MiB) in 1.23 s", "  wrote           r50.onnx (97.48 MiB) in 9.87 s", true, 0},
		{"[1/3] ok      m1.onnx  peak 182.60 MiB -> 127.53 MiB (-30.2%), 4.34 s", "[1/3] ok      m1.onnx  peak 182.60 MiB -> 127.53 MiB (-30.2%), 5.01 s", true, 0},
		{"[1/3] ok      m1.onnx  peak 182.60 MiB -> 127.53 MiB (-30.2%), 4.34 s", "[1/3] ok      m1.onnx  peak 182.60 MiB -> 127.54 MiB (-30.2%), 4.34 s", false, 0},
		{"| m1.onnx | 2828 → 8096 | 182.60 MiB | 127.53 MiB | -30.2% | +69.2% | 4.34 | ok |", "| m1.onnx | 2828 → 8096 | 182.60 MiB | 127.53 MiB | -30.2% | +69.2% | 3.99 | ok |", true, 0},
		{"| m1.onnx | 2828 → 8096 | 182.60 MiB | 127.53 MiB | -30.2% | +69.2% | 4.34 | ok |", "| m1.onnx | 2828 → 8097 | 182.60 MiB | 127.53 MiB | -30.2% | +69.2% | 4.34 | ok |", false, 0},
	} {
		if got := readmeMatches(c.want, c.got); got != c.match {
			t.Errorf("readmeMatches(%q, %q) = %v", c.want, c.got, got)
		}
		r, ok := readmeMeasuredRatio(c.want)
		if ok != (c.ratio > 0) || r != c.ratio {
			t.Errorf("readmeMeasuredRatio(%q) = %v, %v; want %v", c.want, r, ok, c.ratio)
		}
	}
}
