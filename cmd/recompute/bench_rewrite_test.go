//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/models"
)

// TestMain lets a benchmark run this test binary as the recompute command
// (RECOMPUTE_RUN_MAIN=1), so that it can measure a whole command in a
// process of its own: wall time and peak RSS.
func TestMain(m *testing.M) {
	if os.Getenv("RECOMPUTE_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// BenchmarkRewriteCommandResNet152 is issue 5's benchmark: `recompute
// rewrite` with default flags (strategy approx, objective memory, base
// order best) on the full-size ResNet-152 training graph with its weights
// (224×224, batch 1, 241 MB), run as its own process. Metrics: seconds per
// rewrite (wall) and the process's peak RSS as a multiple of the file size.
// Target: s/rewrite < 3, peak-rss-x-file < 2
func BenchmarkRewriteCommandResNet152(b *testing.B) {
	dir := b.TempDir()
	in := filepath.Join(dir, "resnet152_training.onnx")
	func() {
		fm, err := models.Build("resnet152", models.Options{Batch: 1})
		if err != nil {
			b.Fatal(err)
		}
		tm, err := autodiff.Build(fm, autodiff.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := tm.Save(in); err != nil {
			b.Fatal(err)
		}
	}()
	st, err := os.Stat(in)
	if err != nil {
		b.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(dir, "out.onnx")
	var secs float64
	var rss int64
	b.ResetTimer()
	for b.Loop() {
		cmd := exec.Command(exe, "rewrite", in, "-o", out)
		cmd.Env = append(os.Environ(), "RECOMPUTE_RUN_MAIN=1")
		start := time.Now()
		if msg, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("rewrite: %v\n%s", err, msg)
		}
		secs += time.Since(start).Seconds()
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = max(rss, ru.Maxrss*1024) // Linux: KiB
		}
	}
	b.ReportMetric(secs/float64(b.N), "s/rewrite")
	b.ReportMetric(float64(rss)/float64(st.Size()), "peak-rss-x-file")
	b.ReportMetric(float64(st.Size())/1e6, "file-MB")
}
