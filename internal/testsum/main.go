// Command testsum reads `go test -json` on stdin and prints what a person
// needs from a long test run: one line per package as it finishes, the full
// output of every failed test, and at the end every skipped test with the
// reason it gave. It exits 1 if any test or package failed, so that
// scripts/test.sh can pipe into it and keep go test's verdict.
//
// Promise: a test that failed or skipped is never left out of the summary.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type key struct{ pkg, test string }

func main() {
	os.Exit(summarise(os.Stdin, os.Stdout))
}

func summarise(r io.Reader, w io.Writer) int {
	out := map[key][]string{}
	running := map[key]bool{} // tests that started and have not ended
	var skipped, failed []key
	failedPkg := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			// Not an event (a build error printed by go itself): show it.
			fmt.Fprintln(w, sc.Text())
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "run":
			running[k] = true
		case "pass":
			delete(running, k)
		case "output":
			out[k] = append(out[k], e.Output)
			if e.Test == "" && isPackageLine(e.Output) {
				fmt.Fprint(w, e.Output)
			}
		case "skip":
			delete(running, k)
			if e.Test != "" {
				skipped = append(skipped, k)
			}
		case "fail":
			delete(running, k)
			if e.Test != "" {
				failed = append(failed, k)
				fmt.Fprintf(w, "--- FAIL: %s %s\n%s", e.Package, e.Test, strings.Join(out[k], ""))
				break
			}
			failedPkg = true
			// A package that did not build, panicked or timed out: its own
			// output (without the verdict line, already printed) says why,
			// and the tests still running when it stopped count as failed.
			var why []string
			for _, l := range out[k] {
				if !isPackageLine(l) {
					why = append(why, l)
				}
			}
			fmt.Fprint(w, strings.Join(why, ""))
			var unfinished []key
			for r := range running {
				if r.pkg == e.Package {
					unfinished = append(unfinished, r)
				}
			}
			sortKeys(unfinished)
			for _, r := range unfinished {
				delete(running, r)
				failed = append(failed, r)
				fmt.Fprintf(w, "--- UNFINISHED: %s %s\n%s", r.pkg, r.test, tail(out[r], 20))
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(w, "testsum:", err)
		return 1
	}
	sortKeys(skipped)
	fmt.Fprintf(w, "\n%d skipped tests\n", len(skipped))
	for _, k := range skipped {
		fmt.Fprintf(w, "  %s %s: %s\n", strings.TrimPrefix(k.pkg, "github.com/onnx-recompute/recompute/"), k.test, reason(out[k]))
	}
	if len(failed) > 0 || failedPkg {
		fmt.Fprintf(w, "%d failed tests\n", len(failed))
		return 1
	}
	return 0
}

func sortKeys(ks []key) {
	sort.Slice(ks, func(i, j int) bool {
		return ks[i].pkg+" "+ks[i].test < ks[j].pkg+" "+ks[j].test
	})
}

// tail is the last n of lines, joined.
func tail(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// isPackageLine reports whether s is go test's verdict line for a package.
func isPackageLine(s string) bool {
	return strings.HasPrefix(s, "ok  \t") || strings.HasPrefix(s, "FAIL\t") || strings.HasPrefix(s, "?   \t")
}

// reason is a skipped test's message: its output without the RUN, PAUSE,
// CONT and SKIP lines.
func reason(lines []string) string {
	var r []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		r = append(r, t)
	}
	if len(r) == 0 {
		return "(no reason given)"
	}
	return strings.Join(r, " / ")
}
