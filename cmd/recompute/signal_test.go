//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests run the command in a process of its own (this test binary,
// as TestMain allows) and stop it with a signal, as a user (Ctrl-C) or a
// job scheduler (SIGTERM) would.

// sigStart runs the command with args; lines receives its stdout lines.
type sigProc struct {
	cmd    *exec.Cmd
	lines  chan string
	stdout bytes.Buffer
	stderr bytes.Buffer
	mu     sync.Mutex
	done   chan struct{}
}

func sigStart(t *testing.T, args ...string) *sigProc {
	t.Helper()
	return sigStartEnv(t, nil, args...)
}

// sigStartEnv is sigStart with more environment variables.
func sigStartEnv(t *testing.T, env []string, args ...string) *sigProc {
	t.Helper()
	p := &sigProc{cmd: exec.Command(os.Args[0], args...), lines: make(chan string, 1000), done: make(chan struct{})}
	p.cmd.Env = append(append(os.Environ(), "RECOMPUTE_RUN_MAIN=1"), env...)
	p.cmd.Stderr = &p.stderr
	r, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		io.Copy(io.Discard, r)
	}()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	return p
}

// waitLine waits up to d for a stdout line with prefix.
func (p *sigProc) waitLine(t *testing.T, prefix string, d time.Duration) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case l := <-p.lines:
			if strings.HasPrefix(l, prefix) {
				return
			}
		case <-p.done:
			t.Fatalf("exited before printing %q:\n%s%s", prefix, p.out(), p.stderr.String())
		case <-timeout:
			t.Fatalf("no line %q in %v", prefix, d)
		}
	}
}

func (p *sigProc) out() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

// wait returns the exit status.
func (p *sigProc) wait(t *testing.T) int {
	t.Helper()
	<-p.done
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// sigTemps lists the temporary files of saves under dir.
func sigTemps(t *testing.T, dir string) []string {
	t.Helper()
	var temps []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".recompute-tmp-") {
			temps = append(temps, path)
		}
		return nil
	})
	return temps
}

// sigModels writes n training graphs into a new directory: ResNet-50 at
// batch 8, 112x112, where recomputation lowers the peak by a third; about
// 4 s each to convert.
func sigModels(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	first := filepath.Join(dir, "m1.onnx")
	if code, _, stderr := rwRun(t, "grad", "resnet50", "--batch", "8", "--size", "112", "-o", first); code != 0 {
		t.Fatalf("grad: %s", stderr)
	}
	for i := 2; i <= n; i++ {
		rwCopy(t, first, filepath.Join(dir, "m"+strconv.Itoa(i)+".onnx"))
	}
	return dir
}

// SIGINT while convert plans its second file: exit 130, no temporary file,
// the finished file intact, a summary and a report of what finished, what
// was interrupted and what did not start. Then --resume converts only the
// rest, and its report equals that of a run without interruption apart
// from timings; with other flags, --resume converts every file again.
func TestInterruptConvertAndResume(t *testing.T) {
	in := sigModels(t, 3)
	out := filepath.Join(t.TempDir(), "out")
	report := filepath.Join(t.TempDir(), "report.json")
	p := sigStart(t, "convert", in, "-o", out, "-j", "1", "--report", report)
	p.waitLine(t, "[1/3] ok", 2*time.Minute)
	time.Sleep(500 * time.Millisecond) // m2 is being planned
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 130 {
		t.Errorf("exit %d, want 130\n%s", code, p.stderr.String())
	}
	if temps := sigTemps(t, out); len(temps) > 0 {
		t.Errorf("temporary files left: %v", temps)
	}
	stdout := p.out()
	for _, want := range []string{"| m1.onnx | ", "| ok |", "| m2.onnx | | | | | | | interrupted |", "| m3.onnx | | | | | | | not started |", "run again with --resume"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	got := convertReport(t, report)
	if len(got) != 3 || got[0].Status != "ok" || got[0].Clones == 0 || got[1].Status != "interrupted" || got[2].Status != "not started" {
		t.Errorf("report after the signal: %+v", got)
	}
	if _, err := os.Stat(filepath.Join(out, "m1.onnx")); err != nil {
		t.Errorf("finished file: %v", err)
	}
	for _, f := range []string{"m2.onnx", "m3.onnx"} {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			t.Errorf("%s exists, but the summary says it did not finish", f)
		}
	}

	code, stdout, stderr := rwRun(t, "convert", in, "-o", out, "-j", "1", "--resume", "--report", report)
	if code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "[1/3] skipped m1.onnx (up to date)") || strings.Count(stdout, "skipped") != 2 { // the line and the table's row
		t.Errorf("resume did not skip exactly m1:\n%s", stdout)
	}
	resumed := convertReport(t, report)

	fresh := filepath.Join(t.TempDir(), "report.json")
	if code, _, stderr := rwRun(t, "convert", in, "-o", filepath.Join(t.TempDir(), "out"), "-j", "2", "--report", fresh); code != 0 {
		t.Fatalf("uninterrupted run: exit %d: %s", code, stderr)
	}
	a, _ := json.Marshal(resumed)
	b, _ := json.Marshal(convertReport(t, fresh))
	if !bytes.Equal(a, b) {
		t.Errorf("resumed report differs from an uninterrupted run's:\n%s\n%s", a, b)
	}

	code, stdout, stderr = rwRun(t, "convert", in, "-o", out, "-j", "2", "--resume", "--strategy", "chen")
	if code != 0 {
		t.Fatalf("resume with other flags: exit %d: %s", code, stderr)
	}
	if strings.Contains(stdout, "skipped") {
		t.Errorf("other flags, yet files were skipped:\n%s", stdout)
	}
}

// SIGTERM to rewrite while it plans and while it saves a large model: exit
// 143 and no file, temporary or final, in the output directory.
func TestInterruptRewrite(t *testing.T) {
	for _, when := range []string{"planning", "saving"} {
		t.Run(when, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.onnx")
			p := sigStart(t, "rewrite", "resnet152", "--batch", "8", "-o", out)
			if when == "planning" {
				time.Sleep(time.Second)
			} else {
				// Until the save's temporary file appears (planning
				// ResNet-152 takes seconds; its 230 MB save, a while).
				deadline := time.Now().Add(3 * time.Minute)
				for len(sigTemps(t, dir)) == 0 {
					if time.Now().After(deadline) {
						t.Fatal("no temporary file appeared")
					}
					select {
					case <-p.done:
						t.Fatalf("exited before saving:\n%s", p.stderr.String())
					default:
					}
					time.Sleep(2 * time.Millisecond)
				}
			}
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if code := p.wait(t); code != 143 {
				t.Errorf("exit %d, want 143\n%s", code, p.stderr.String())
			}
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				t.Errorf("left in the output directory: %v", ents)
			}
			if !strings.Contains(p.stderr.String(), "stopped by SIGTERM") {
				t.Errorf("stderr: %s", p.stderr.String())
			}
		})
	}
}

// A temporary file left by a run that was killed outright (kill -9) is
// removed by the next run over that directory.
func TestStaleTemporaryRemoved(t *testing.T) {
	in := sigModels(t, 1)
	out := t.TempDir()
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	p.Wait()
	stale := filepath.Join(out, ".m1.onnx.recompute-tmp-"+strconv.Itoa(p.Pid)+"-123")
	if err := os.WriteFile(stale, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := rwRun(t, "convert", in, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("stale temporary file still there")
	}
	if !strings.Contains(stdout, "removed 1 temporary file(s) of an earlier run that was killed") {
		t.Errorf("not reported:\n%s", stdout)
	}
}

// SIGTERM to verify while ONNX Runtime measures in its child processes:
// exit 143, and no child process or scratch directory outlives it.
func TestInterruptVerify(t *testing.T) {
	vtNeedORT(t)
	dir := t.TempDir()
	orig, rw := filepath.Join(dir, "t.onnx"), filepath.Join(dir, "rc.onnx")
	if code, _, stderr := rwRun(t, "grad", "resnet50", "--batch", "8", "--size", "112", "-o", orig); code != 0 {
		t.Fatal(stderr)
	}
	if code, _, stderr := rwRun(t, "rewrite", orig, "-o", rw); code != 0 {
		t.Fatal(stderr)
	}
	tmp := t.TempDir()
	p := sigStartEnv(t, []string{"TMPDIR=" + tmp}, "verify", orig, rw, "--runs", "3")
	deadline := time.Now().Add(time.Minute)
	for sigChildren(t, p.cmd.Process.Pid) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("verify started no child process")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(t); code != 143 {
		t.Errorf("exit %d, want 143: %s", code, p.stderr.String())
	}
	time.Sleep(200 * time.Millisecond)
	if n := sigOrphans(t); n > 0 {
		t.Errorf("%d child processes outlived verify", n)
	}
	if ents, _ := os.ReadDir(tmp); len(ents) > 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("scratch left in TMPDIR: %v", names)
	}
}

// sigChildren counts the processes whose parent is pid.
func sigChildren(t *testing.T, pid int) int {
	n := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, f := range procs {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces; parse after ')'.
		s := string(data)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(s[i+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			n++
		}
	}
	return n
}

// sigOrphans counts running processes of this test binary other than
// this one (the measuring children re-run it).
func sigOrphans(t *testing.T) int {
	self, _ := os.Executable()
	n := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, f := range procs {
		exe, err := os.Readlink(f)
		if err != nil || exe != self {
			continue
		}
		if f != "/proc/"+strconv.Itoa(os.Getpid())+"/exe" {
			n++
		}
	}
	return n
}
