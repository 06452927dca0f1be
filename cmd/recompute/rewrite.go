package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/onnx-recompute/recompute"
	"github.com/onnx-recompute/recompute/models"
	"github.com/onnx-recompute/recompute/onnx"
)

func runRewrite(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rewrite", "MODEL -o OUT [flags]\n\nMODEL is a training graph (.onnx), a forward model with --grad, or a built-in\nnetwork name ("+strings.Join(models.Names(), ", ")+").", stderr)
	out := fs.StringP("output", "o", "", "write the rewritten model to `OUT` (required)")
	f := addRewriteFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("want one MODEL argument, got %d; see 'recompute rewrite --help'", fs.NArg())
	}
	if *out == "" {
		return usagef("-o OUT is required")
	}
	// Temporary files of an earlier rewrite into this directory that was
	// killed (kill -9: no chance to clean up).
	if removed, _ := onnx.RemoveStaleTemps(filepath.Dir(*out)); len(removed) > 0 {
		fmt.Fprintf(stderr, "recompute rewrite: removed %d temporary file(s) of an earlier run that was killed\n", len(removed))
	}
	prog := newProgress(stderr)
	o := f.options()
	o.Progress = prog.line()
	res, err := recompute.Rewrite(fs.Arg(0), *out, *o)
	prog.end()
	if err != nil {
		return err
	}
	res.WriteText(stdout)
	for _, w := range res.Warnings {
		fmt.Fprintf(stderr, "recompute rewrite: warning: %s\n", w)
	}
	return nil
}
