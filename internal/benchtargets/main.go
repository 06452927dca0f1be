// Command benchtargets prints every benchmark target beside the figure a
// run measured. It reads `go test -bench` output on stdin and the targets
// from the benchmarks' doc comments under the directory given (default
// "."), in the form
//
//	// Target: s/op < 0.5, heap-x-file < 2
//
// where each metric is one the benchmark reports (s/op is ns/op in
// seconds). scripts/bench-targets.sh runs it. It exits 1 if a target was
// missed or a benchmark with targets did not run.
//
// Promise: every target found in the sources is printed, met, missed or
// not run; none is dropped.
package main

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// target is one "metric op value" of a benchmark.
type target struct {
	bench, metric, op string
	value             float64
	file              string
}

var (
	targetItem = regexp.MustCompile(`^\s*([\w/.-]+)\s*(<=|>=|<|>)\s*([0-9.eE+-]+)\s*$`)
)

// parseTargets reads the targets in the doc comments of the benchmark
// functions of one Go test file.
func parseTargets(file string, src io.Reader) ([]target, error) {
	f, err := parser.ParseFile(token.NewFileSet(), file, src, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var out []target
	for _, d := range f.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv != nil || fd.Doc == nil || !strings.HasPrefix(fd.Name.Name, "Benchmark") {
			continue
		}
		for _, line := range strings.Split(fd.Doc.Text(), "\n") {
			rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Target:")
			if !ok {
				continue
			}
			for _, item := range strings.Split(rest, ",") {
				im := targetItem.FindStringSubmatch(item)
				if im == nil {
					return nil, fmt.Errorf("%s: %s: target %q: want METRIC < VALUE", file, fd.Name.Name, strings.TrimSpace(item))
				}
				v, err := strconv.ParseFloat(im[3], 64)
				if err != nil {
					return nil, fmt.Errorf("%s: %s: target %q: %v", file, fd.Name.Name, item, err)
				}
				out = append(out, target{bench: fd.Name.Name, metric: im[1], op: im[2], value: v, file: file})
			}
		}
	}
	return out, nil
}

// measured maps "PKG Benchmark[/sub]" (PKG the import path of the "pkg:"
// line before it; the name without the -GOMAXPROCS suffix) to its metrics,
// from go test -bench output.
func measured(r io.Reader) (map[string]map[string]float64, error) {
	res := map[string]map[string]float64{}
	suffix := regexp.MustCompile(`-[0-9]+$`)
	sc := bufio.NewScanner(r)
	pkg := ""
	for sc.Scan() {
		if p, ok := strings.CutPrefix(sc.Text(), "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				break
			}
			m[f[i+1]] = v
		}
		if ns, ok := m["ns/op"]; ok {
			m["s/op"] = ns / 1e9
		}
		res[pkg+" "+suffix.ReplaceAllString(f[0], "")] = m
	}
	return res, sc.Err()
}

func met(op string, got, want float64) bool {
	switch op {
	case "<":
		return got < want
	case "<=":
		return got <= want
	case ">":
		return got > want
	}
	return got >= want
}

func main() {
	root := "."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	var targets []target
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		ts, err := parseTargets(p, f)
		targets = append(targets, ts...)
		return err
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtargets:", err)
		os.Exit(2)
	}
	res, err := measured(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtargets:", err)
		os.Exit(2)
	}
	os.Exit(report(os.Stdout, targets, res))
}

// report prints one row per target and per sub-benchmark that ran, and
// returns the exit status.
func report(w io.Writer, targets []target, res map[string]map[string]float64) int {
	names := make([]string, 0, len(res))
	for n := range res {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "%-48s %-20s %-10s %-12s %s\n", "benchmark", "metric", "target", "measured", "")
	status := 0
	for _, t := range targets {
		ran := false
		dir := filepath.ToSlash(filepath.Dir(t.file))
		for _, n := range names {
			pkg, bench, _ := strings.Cut(n, " ")
			if bench != t.bench && !strings.HasPrefix(bench, t.bench+"/") || !samePackage(pkg, dir) {
				continue
			}
			ran = true
			got, ok := res[n][t.metric]
			verdict, value := "MISSED", "-"
			switch {
			case !ok:
				verdict = "NOT REPORTED"
			case met(t.op, got, t.value):
				verdict, value = "ok", strconv.FormatFloat(got, 'g', 4, 64)
			default:
				value = strconv.FormatFloat(got, 'g', 4, 64)
			}
			if verdict != "ok" {
				status = 1
			}
			fmt.Fprintf(w, "%-48s %-20s %-10s %-12s %s\n", strings.TrimPrefix(dir+" ", ". ")+bench, t.metric, t.op+" "+strconv.FormatFloat(t.value, 'g', -1, 64), value, verdict)
		}
		if !ran {
			status = 1
			fmt.Fprintf(w, "%-48s %-20s %-10s %-12s %s (%s)\n", t.bench, t.metric, t.op+" "+strconv.FormatFloat(t.value, 'g', -1, 64), "-", "NOT RUN", t.file)
		}
	}
	return status
}

// samePackage reports whether import path pkg is the package in directory
// dir (relative to the module root; "." is the root's), when the run names
// no package (pkg ""), any.
func samePackage(pkg, dir string) bool {
	dir = strings.TrimPrefix(dir, "./")
	return pkg == "" || strings.HasSuffix(pkg, "/"+dir) || pkg == dir
}
