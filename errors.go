package recompute

import (
	"fmt"
	"strings"

	"github.com/onnx-recompute/recompute/autodiff"
	"github.com/onnx-recompute/recompute/planner"
)

// Version is the tool's version, recorded in every rewritten model
// (producer_version and provenance). The command sets it from its build.
var Version = "0.1.0-dev"

// OptionError is an option with a malformed or unknown value. Its message
// names the option by its command-line flag (--budget, --strategy, …).
type OptionError struct{ Msg string }

func (e *OptionError) Error() string { return e.Msg }

func optionErrorf(format string, a ...any) error {
	return &OptionError{fmt.Sprintf(format, a...)}
}

// InfeasibleError is a budget below the least peak any plan reaches;
// MinBytes is that least peak, the smallest budget that would do.
type InfeasibleError = planner.InfeasibleError

// UnsupportedOpError is an op the backward graph would need a gradient of
// and autodiff has no rule for (Grad, or Grad in Rewrite, Plan and
// Convert).
type UnsupportedOpError = autodiff.UnsupportedOpError

// UnknownSizesError refuses to plan a graph whose values that
// recomputation would touch have unknown sizes (PlanOptions
// AllowUnknownSizes plans anyway, counting them 0 bytes). Unbound lists the
// graph inputs' symbolic dimensions no option binds.
type UnknownSizesError struct {
	Values  []string // the values of unknown size
	Unbound []string // unbound symbolic dimensions of the graph inputs
}

func (e *UnknownSizesError) Error() string {
	what := fmt.Sprintf("%d values that recomputation would touch have unknown sizes (%s)", len(e.Values), summarise(e.Values, 3))
	const allow = "--allow-unknown-sizes plans anyway, counting them 0 bytes"
	if len(e.Unbound) == 0 {
		return fmt.Sprintf("%s: their shapes cannot be inferred (an unnamed dimension of a graph input: pass --batch N; an op without a shape rule; or shapes computed from data); %s", what, allow)
	}
	return fmt.Sprintf("%s: symbolic dimension %s not bound; pass --batch N (binds the graph inputs' leading dimension) or --dim %s=N; %s",
		what, summarise(e.Unbound, 4), e.Unbound[0], allow)
}

// summarise lists the first n of items and how many more there are.
func summarise(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// withCause is an error with its own message that unwraps to its cause.
type withCause struct {
	msg   string
	cause error
}

func (e *withCause) Error() string { return e.msg }
func (e *withCause) Unwrap() error { return e.cause }
