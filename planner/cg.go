package planner

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// cgInfo remembers how a Graph maps back to a cg file.
type cgInfo struct {
	n int // number of cg variables; value v < n is variable v, value n+v its gradient
}

// CG memory semantics, chosen because they reproduce PAPER.md §9's reference
// (strategy none on cg_vgg19.txt replays at exactly 2,664,607,780 bytes):
//   - every cg variable v is a forward Value (index v) and has a gradient
//     Value (index N+v) of the same bytes;
//   - variables no forward function writes (parameters, inputs) are
//     resident: never counted, always live;
//   - gradients of parameters and inputs are counted and kept until the end
//     (they are what training produces), so they are Outputs;
//   - the loss is an output (kept to the end); its gradient is created by the
//     loss's forward function and freed after its last use (the published
//     evaluator materialises it as ones_like(loss));
//   - a compute step holds its inputs and outputs at once; everything else is
//     freed after its last use.
// Dropping a reading moves the none peak away from the reference (measured:
// parameters' gradients uncounted: 2,132,279,296 − 4; parameters' gradients
// freed after their write: 2,514,960,384 − 4; the loss freed after its last
// use: 2,664,607,776).

// ParseCG reads the paper's plain-text graph format (PAPER.md §9). Op i is
// function i of the file (forward functions first, then backward ones, as
// the published dumps are laid out; any order is accepted). Costs are the
// paper's: 10 for convolutions, 1 otherwise.
func ParseCG(r io.Reader) (*Graph, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	line := 0
	next := func() ([]string, error) {
		for sc.Scan() {
			line++
			f := strings.Fields(sc.Text())
			if len(f) > 0 {
				return f, nil
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		return nil, fmt.Errorf("line %d: unexpected end of file", line)
	}
	atoi := func(s, what string) (int, error) {
		v, err := strconv.Atoi(s)
		if err != nil {
			return 0, fmt.Errorf("line %d: %s %q is not an integer", line, what, s)
		}
		return v, nil
	}
	f, err := next()
	if err != nil {
		return nil, err
	}
	if len(f) != 2 {
		return nil, fmt.Errorf("line %d: want \"N F\" (variable and function counts)", line)
	}
	n, err := atoi(f[0], "variable count")
	if err != nil {
		return nil, err
	}
	nf, err := atoi(f[1], "function count")
	if err != nil {
		return nil, err
	}
	if n <= 0 || nf <= 0 || n > 1<<22 || nf > 1<<22 {
		return nil, fmt.Errorf("line %d: implausible counts N=%d F=%d", line, n, nf)
	}
	g := &Graph{Values: make([]Value, 2*n), cg: &cgInfo{n: n}}
	named := make([]bool, n)
	seen := make([]bool, n)
	for i := 0; i < n; i++ {
		f, err := next()
		if err != nil {
			return nil, err
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: want \"id bytes name\"", line)
		}
		id, err := atoi(f[0], "variable id")
		if err != nil {
			return nil, err
		}
		if id < 0 || id >= n || seen[id] {
			return nil, fmt.Errorf("line %d: variable id %d out of range or repeated", line, id)
		}
		seen[id] = true
		b, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || b < 0 {
			return nil, fmt.Errorf("line %d: bad byte count %q", line, f[1])
		}
		name := "v" + f[0]
		if f[2] != "_" {
			named[id] = true
			name = f[2]
		}
		g.Values[id] = Value{Name: name, Bytes: b}
		g.Values[n+id] = Value{Name: "grad(" + name + ")", Bytes: b}
	}
	fwdWrites := make([]bool, n)
	fwdReads := make([]bool, n)
	type rawOp struct {
		backward bool
		ins      []int
		roles    []string
		outs     []int
		typ      string
	}
	raw := make([]rawOp, nf)
	for i := 0; i < nf; i++ {
		f, err := next()
		if err != nil {
			return nil, err
		}
		var op rawOp
		switch f[0] {
		case "forward":
		case "backward":
			op.backward = true
		default:
			return nil, fmt.Errorf("line %d: want forward or backward, got %q", line, f[0])
		}
		if f, err = next(); err != nil {
			return nil, err
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"k p\" (input and output counts)", line)
		}
		k, err := atoi(f[0], "input count")
		if err != nil {
			return nil, err
		}
		p, err := atoi(f[1], "output count")
		if err != nil {
			return nil, err
		}
		if k < 0 || p < 1 || k > n || p > n {
			return nil, fmt.Errorf("line %d: bad counts k=%d p=%d", line, k, p)
		}
		for j := 0; j < k; j++ {
			if f, err = next(); err != nil {
				return nil, err
			}
			if len(f) != 2 {
				return nil, fmt.Errorf("line %d: want \"id role\"", line)
			}
			id, err := atoi(f[0], "variable id")
			if err != nil {
				return nil, err
			}
			if id < 0 || id >= n {
				return nil, fmt.Errorf("line %d: variable id %d out of range", line, id)
			}
			switch f[1] {
			case "_", "input", "output", "gradient":
			default:
				return nil, fmt.Errorf("line %d: unknown role %q", line, f[1])
			}
			op.ins = append(op.ins, id)
			op.roles = append(op.roles, f[1])
		}
		for j := 0; j < p; j++ {
			if f, err = next(); err != nil {
				return nil, err
			}
			id, err := atoi(f[0], "variable id")
			if err != nil {
				return nil, err
			}
			if id < 0 || id >= n {
				return nil, fmt.Errorf("line %d: variable id %d out of range", line, id)
			}
			op.outs = append(op.outs, id)
		}
		if f, err = next(); err != nil {
			return nil, err
		}
		op.typ = f[0]
		if !sc.Scan() { // attributes (JSON), checked for shape only
			return nil, fmt.Errorf("line %d: missing attribute line", line+1)
		}
		line++
		if attr := strings.TrimSpace(sc.Text()); attr != "" && !json.Valid([]byte(attr)) {
			return nil, fmt.Errorf("line %d: attributes are not JSON", line)
		}
		if !op.backward {
			if len(op.outs) != 1 {
				return nil, fmt.Errorf("line %d: forward function %d writes %d values, want 1", line, i, len(op.outs))
			}
			if fwdWrites[op.outs[0]] {
				return nil, fmt.Errorf("line %d: variable %d written by two forward functions", line, op.outs[0])
			}
			fwdWrites[op.outs[0]] = true
			for _, v := range op.ins {
				fwdReads[v] = true
			}
		}
		raw[i] = op
	}
	var loss []int
	for v := 0; v < n; v++ {
		if fwdWrites[v] && !fwdReads[v] {
			loss = append(loss, v)
			g.Values[v].Output = true // the loss is what the user reads
		}
		if !fwdWrites[v] {
			g.Values[v].Resident = true
			g.Values[n+v].Output = true
		}
	}
	if len(loss) == 0 {
		return nil, fmt.Errorf("no loss: every forward value is read by another forward function")
	}
	isLoss := make([]bool, n)
	for _, v := range loss {
		isLoss[v] = true
	}
	g.Ops = make([]Op, nf)
	fwdPos := make([]int, 0, nf)
	for i, r := range raw {
		op := Op{Name: strconv.Itoa(i), Type: r.typ, Backward: r.backward, Recomputable: !r.backward}
		for j, v := range r.ins {
			if r.roles[j] == "gradient" {
				op.Inputs = append(op.Inputs, n+v)
			} else {
				op.Inputs = append(op.Inputs, v)
			}
		}
		for _, v := range r.outs {
			if r.backward {
				op.Outputs = append(op.Outputs, n+v)
			} else {
				op.Outputs = append(op.Outputs, v)
				if isLoss[v] {
					// The loss gradient is given: born with the loss.
					op.Outputs = append(op.Outputs, n+v)
				}
			}
		}
		if !r.backward {
			op.Cost = 1
			if strings.HasPrefix(r.typ, "Convolution") || strings.HasPrefix(r.typ, "Deconvolution") {
				op.Cost = 10
			}
			g.ForwardCost += op.Cost
			fwdPos = append(fwdPos, i)
		}
		g.Ops[i] = op
	}
	// Backward functions run in reverse order of their forward functions
	// where dependencies allow: backward op j of the file pairs with
	// forward op j-F/2 in the published dumps.
	g.bwdPrio = make([]int, nf)
	half := nf / 2
	for i, r := range raw {
		if r.backward {
			g.bwdPrio[i] = i
			if i >= half && !raw[i-half].backward {
				g.bwdPrio[i] = nf - (i - half)
			}
		}
	}
	if err := g.Validate(); err != nil {
		return nil, err
	}
	return g, nil
}

// WriteSchedule writes s in the text format of PAPER.md §9: "compute F" for
// a forward function, "compute F 0 1 ..." (every output position) for a
// backward function, and "forget V forward|backward" for a free. F is the
// function's index in file order (0-based, forward and backward functions
// counted together), as the published create_normal_schedule.py and solver
// number them. Only graphs from ParseCG can be written.
func WriteSchedule(w io.Writer, g *Graph, s Schedule) error {
	if g.cg == nil {
		return fmt.Errorf("write schedule: graph was not read from a cg file")
	}
	bw := bufio.NewWriter(w)
	n := g.cg.n
	for i, st := range s {
		switch {
		case st.Op >= 0 && st.Op < len(g.Ops):
			op := g.Ops[st.Op]
			fmt.Fprintf(bw, "compute %d", st.Op)
			if op.Backward {
				for j := range op.Outputs {
					fmt.Fprintf(bw, " %d", j)
				}
			}
			bw.WriteByte('\n')
		case st.Op == -1 && st.Free >= 0 && st.Free < 2*n:
			if st.Free < n {
				fmt.Fprintf(bw, "forget %d forward\n", st.Free)
			} else {
				fmt.Fprintf(bw, "forget %d backward\n", st.Free-n)
			}
		default:
			return fmt.Errorf("write schedule: step %d is invalid (%+v)", i, st)
		}
	}
	return bw.Flush()
}

// ReadSchedule parses the §9 text format back into a Schedule for g (a
// graph from ParseCG). Output positions of a backward step must list every
// output: the Op model runs a function whole.
func ReadSchedule(r io.Reader, g *Graph) (Schedule, error) {
	if g.cg == nil {
		return nil, fmt.Errorf("read schedule: graph was not read from a cg file")
	}
	n := g.cg.n
	var s Schedule
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "compute":
			if len(f) < 2 {
				return nil, fmt.Errorf("line %d: compute needs a function index", line)
			}
			op, err := strconv.Atoi(f[1])
			if err != nil || op < 0 || op >= len(g.Ops) {
				return nil, fmt.Errorf("line %d: bad function index %q", line, f[1])
			}
			if g.Ops[op].Backward && len(f) != 2 && len(f)-2 != len(g.Ops[op].Outputs) {
				return nil, fmt.Errorf("line %d: partial backward step (%d of %d outputs) is not supported", line, len(f)-2, len(g.Ops[op].Outputs))
			}
			s = append(s, Step{Op: op, Free: -1})
		case "forget":
			if len(f) != 3 {
				return nil, fmt.Errorf("line %d: want \"forget V forward|backward\"", line)
			}
			v, err := strconv.Atoi(f[1])
			if err != nil || v < 0 || v >= n {
				return nil, fmt.Errorf("line %d: bad variable %q", line, f[1])
			}
			switch f[2] {
			case "forward":
			case "backward":
				v += n
			default:
				return nil, fmt.Errorf("line %d: want forward or backward, got %q", line, f[2])
			}
			s = append(s, Step{Op: -1, Free: v})
		default:
			return nil, fmt.Errorf("line %d: unknown step %q", line, f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line, err)
	}
	return s, nil
}
