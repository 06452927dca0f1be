package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeExample is a README code block that shows one recompute command
// ("$ recompute ...") and what it prints.
type readmeExample struct {
	line int      // README line of the command
	args []string // after "recompute"
	want []string // the lines shown, in order (an example may leave lines out)
}

// readmeExamples returns the README's single-command examples. Blocks with
// several commands (the verify session) show ONNX Runtime measurements,
// which vary from run to run; they are not checked here.
func readmeExamples(t *testing.T, readme string) []readmeExample {
	t.Helper()
	var ex []readmeExample
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```" || i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "$ recompute ") {
			continue
		}
		cmd := strings.TrimPrefix(lines[i+1], "$ recompute ")
		e := readmeExample{line: i + 2}
		j := i + 2
		for ; j < len(lines) && strings.TrimSpace(lines[j]) != "```"; j++ {
			if strings.HasPrefix(lines[j], "$ ") {
				e.want = nil
				break
			}
			e.want = append(e.want, lines[j])
		}
		i = j
		if e.want == nil {
			continue
		}
		args, err := readmeWords(cmd)
		if err != nil {
			t.Fatalf("README:%d: %v", e.line, err)
		}
		e.args = args
		ex = append(ex, e)
	}
	return ex
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

// Run-dependent figures: seconds ("in 1.23 s", and a Markdown table's
// last column when it is a number: fit's planning seconds).
var (
	readmeSeconds    = regexp.MustCompile(`\bin [0-9]+\.[0-9]+ s\b`)
	readmeLastColumn = regexp.MustCompile(`\| [0-9]+\.[0-9]+ \|$`)
)

func readmeNormalise(s string) string {
	s = strings.TrimRight(readmeSeconds.ReplaceAllString(s, "in N s"), " ")
	return readmeLastColumn.ReplaceAllString(s, "| N |")
}

// Every single-command example in the README prints what the README shows,
// seconds aside: a changed number in an example, or a change in what the
// command prints, fails here.
func TestREADMEExamples(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	shared, err := filepath.Abs(filepath.Join("..", "..", "..", "shared"))
	if err != nil {
		t.Fatal(err)
	}
	ex := readmeExamples(t, string(data))
	if len(ex) < 4 {
		t.Fatalf("found %d README examples, want the inspect, plan, grad and rewrite ones", len(ex))
	}
	for _, e := range ex {
		t.Run(fmt.Sprintf("%s_line%d", e.args[0], e.line), func(t *testing.T) {
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
			t.Chdir(t.TempDir()) // outputs (-o, --emit-schedule) land here
			code, stdout, stderr := rwRun(t, args...)
			if code != 0 {
				t.Fatalf("README:%d: recompute %s: exit %d: %s", e.line, strings.Join(e.args, " "), code, stderr)
			}
			got := strings.Split(stdout, "\n")
			k := 0
			for _, w := range e.want {
				w = readmeNormalise(w)
				for k < len(got) && readmeNormalise(got[k]) != w {
					k++
				}
				if k == len(got) {
					t.Errorf("README:%d: recompute %s does not print (in this order)\n  %s\nit printed:\n%s", e.line, strings.Join(e.args, " "), w, stdout)
					return
				}
				k++
			}
		})
	}
}
