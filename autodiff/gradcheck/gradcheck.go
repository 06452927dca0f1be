package gradcheck

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/onnx-recompute/recompute/onnx"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"github.com/onnx-recompute/recompute/ort"
	"google.golang.org/protobuf/proto"
)

// Options of Check. Zero values take the defaults in brackets.
type Options struct {
	LibPath   string  // ONNX Runtime library ("" = ort.LibraryPath(""))
	Tolerance float64 // max relative error per coordinate [0.05]
	Coords    int     // coordinates per parameter: the largest |gradient| plus random ones [1]; a direction check along the gradient always runs
	MaxParams int     // parameters checked, spread evenly over the list [48]
	Seed      int64   // inputs, random weights and coordinate choice [1]
}

// Coord is one checked coordinate (Index -1: the direction g/‖g‖, whose
// analytic derivative is ‖g‖ and whose Eps is the step length).
type Coord struct {
	Index             int64
	Analytic, Numeric float64
	Eps               float64
	RelErr            float64
}

// Param is the result for one parameter.
type Param struct {
	Name        string
	Coords      []Coord
	WorstRelErr float64
	MaxAbsGrad  float64 // largest |analytic gradient| over the whole tensor
}

// Result of Check. The relative error of a probe is
//
//	|numeric − analytic| / max(|numeric|, |analytic|, floor)
//
// with floor = max(1e-3·(largest |gradient| of the model), noise) and noise
// = 1e-6·|loss|/eps, the finite difference's float32 rounding level: a
// coordinate whose gradient is far below both is compared absolutely. Per
// parameter it probes the direction g/‖g‖ (derivative ‖g‖), the coordinate
// of largest |g| and Coords−1 random coordinates. Each probe tries steps
// 1e-2, 1e-3, … of the weight scale (see steps) until one agrees within
// Tolerance/5 and keeps its best: large steps cross ReLU/MaxPool kinks,
// small ones drown in float32 rounding; a wrong gradient fails them all.
type Result struct {
	Loss        float64
	Params      []Param
	Checked     int // parameters checked
	Total       int // parameters in the model
	Evals       int // forward+backward runs of the graph
	Worst       float64
	WorstParam  string
	Tolerance   float64
	Seconds     float64
	Note        string // e.g. "replaced missing external weights with random ones"
	InputsFixed []string
}

// OK reports whether every checked coordinate is within tolerance.
func (r *Result) OK() bool { return r.Worst <= r.Tolerance }

// Check runs the gradient check of training graph m (outputs: loss, then
// "<param>_grad" per parameter; params are initializers or, for models
// without trainable initializers, graph inputs).
func Check(m *onnx.Model, opt Options) (*Result, error) {
	start := time.Now()
	if opt.Tolerance <= 0 {
		opt.Tolerance = 0.05
	}
	if opt.Coords <= 0 {
		opt.Coords = 1
	}
	if opt.MaxParams <= 0 {
		opt.MaxParams = 48
	}
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	lib, err := ort.LibraryPath(opt.LibPath)
	if err != nil {
		return nil, err
	}
	if err := ort.Init(lib); err != nil {
		return nil, err
	}
	g := m.Proto.GetGraph()
	if len(g.Output) < 2 {
		return nil, fmt.Errorf("gradcheck: model has %d outputs; want the loss and at least one gradient", len(g.Output))
	}
	res := &Result{Tolerance: opt.Tolerance}
	// Parameters: "<p>_grad" outputs.
	var params []string
	for _, o := range g.Output[1:] {
		p, ok := strings.CutSuffix(o.GetName(), "_grad")
		if !ok {
			return nil, fmt.Errorf("gradcheck: output %q is not a <param>_grad", o.GetName())
		}
		params = append(params, p)
	}
	res.Total = len(params)
	inits := map[string]*onnxpb.TensorProto{}
	for _, t := range g.Initializer {
		inits[t.GetName()] = t
	}
	// Which parameters: all, or MaxParams spread evenly.
	pick := make([]int, 0, len(params))
	if len(params) <= opt.MaxParams {
		for i := range params {
			pick = append(pick, i)
		}
	} else {
		for j := 0; j < opt.MaxParams; j++ {
			pick = append(pick, j*(len(params)-1)/(opt.MaxParams-1))
		}
	}
	// Only the sampled parameters become inputs (fed on every run); the
	// others stay initializers.
	isParam := map[string]bool{}
	for _, i := range pick {
		isParam[params[i]] = true
	}
	// Graph inputs (labels, data) at fixed random values; float graph-input
	// params (fallback mode) come from here too.
	inputs, err := ort.RandomInputs(m, ort.InputOptions{Seed: opt.Seed})
	if err != nil {
		return nil, fmt.Errorf("gradcheck: inputs: %w", err)
	}
	feeds := map[string]*ort.Tensor{}
	for i := range inputs {
		feeds[inputs[i].Name] = &inputs[i]
	}
	// The check model: initializer params become inputs; missing external
	// data is replaced by random values.
	cg := &onnxpb.GraphProto{Name: g.Name, Node: g.Node, Input: append([]*onnxpb.ValueInfoProto{}, g.Input...), Output: g.Output, ValueInfo: g.ValueInfo}
	rng := rand.New(rand.NewPCG(uint64(opt.Seed), 7))
	missing := 0
	for _, t := range g.Initializer {
		name := t.GetName()
		data, err := m.TensorBytes(t)
		if err != nil && onnx.IsExternal(t) {
			data, err = randomWeights(t, rng)
			missing++
		}
		if err != nil {
			return nil, fmt.Errorf("gradcheck: initializer %s: %w", name, err)
		}
		if !isParam[name] {
			if onnx.IsExternal(t) {
				c := &onnxpb.TensorProto{Name: t.Name, Dims: t.Dims, DataType: t.DataType, RawData: data}
				cg.Initializer = append(cg.Initializer, c)
			} else {
				cg.Initializer = append(cg.Initializer, t)
			}
			continue
		}
		if onnxpb.TensorProto_DataType(t.GetDataType()) != onnxpb.TensorProto_FLOAT {
			return nil, fmt.Errorf("gradcheck: parameter %s is %v; only float32 is checked", name, onnxpb.TensorProto_DataType(t.GetDataType()))
		}
		feeds[name] = &ort.Tensor{Name: name, Elem: onnxpb.TensorProto_FLOAT, Dims: append([]int64{}, t.Dims...), Data: append([]byte{}, data...)}
		cg.Input = append(cg.Input, valueInfo(name, t.Dims))
	}
	if missing > 0 {
		res.Note = fmt.Sprintf("%d initializers with missing external data replaced by random values", missing)
	}
	for _, i := range pick {
		p := params[i]
		if feeds[p] == nil {
			return nil, fmt.Errorf("gradcheck: parameter %s is neither an initializer nor an input", p)
		}
		if feeds[p].Elem != onnxpb.TensorProto_FLOAT {
			return nil, fmt.Errorf("gradcheck: parameter %s is %v; only float32 is checked", p, feeds[p].Elem)
		}
	}
	// Forward weights made by ConstantOfShape (the zoo's light_* files fill
	// every weight with one constant, which makes the network numerically
	// degenerate) get random values of the same shape; they are not
	// parameters, so the gradients under test do not depend on how they
	// are made.
	replaced := 0
	cg.Node = nil
	for _, n := range g.Node {
		if t := constantWeight(m, n, inits, rng); t != nil {
			cg.Initializer = append(cg.Initializer, t)
			replaced++
			continue
		}
		cg.Node = append(cg.Node, n)
	}
	// The loss leaves as a 1-element tensor: the ORT bridge rewrites scalar
	// outputs only for models without external data.
	loss1 := "__gradcheck_loss"
	cg.Initializer = append(cg.Initializer, &onnxpb.TensorProto{Name: proto.String("__gradcheck_shape1"), Dims: []int64{1},
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{1}})
	cg.Node = append(cg.Node, &onnxpb.NodeProto{OpType: proto.String("Reshape"), Name: proto.String(loss1),
		Input: []string{g.Output[0].GetName(), "__gradcheck_shape1"}, Output: []string{loss1}})
	lossInfo := valueInfo(loss1, []int64{1})
	if tt := g.Output[0].GetType().GetTensorType(); tt != nil {
		lossInfo.GetType().GetTensorType().ElemType = proto.Int32(tt.GetElemType())
	}
	cg.Output = append([]*onnxpb.ValueInfoProto{lossInfo}, g.Output[1:]...)
	if replaced > 0 {
		res.Note = strings.TrimSpace(res.Note + fmt.Sprintf(" %d ConstantOfShape weights replaced by random values", replaced))
	}
	// Dropout draws a new mask on every Run of a session (its seed fixes
	// the sequence, not the mask). The full run returns each mask; the
	// loss-only copy replaces Dropout by its formula Where(mask, x/(1-r), 0)
	// with the mask fed back, so every evaluation sees the same masks.
	var masks []string
	for _, n := range cg.Node {
		if n.GetOpType() == "Dropout" && len(n.Output) > 1 && n.Output[1] != "" {
			masks = append(masks, n.Output[1])
			cg.Output = append(cg.Output, boolInfo(n.Output[1]))
		}
	}
	mp := &onnxpb.ModelProto{IrVersion: m.Proto.IrVersion, OpsetImport: m.Proto.OpsetImport, ProducerName: m.Proto.ProducerName, Graph: cg}
	dir, err := os.MkdirTemp("", "recompute-gradcheck-")
	if err != nil {
		return nil, err
	}
	defer ort.TrackScratch(dir)() // removed on SIGINT/SIGTERM too (ort.Stop)
	defer os.RemoveAll(dir)
	// Large weights go to one external file both copies share, so the
	// weights are written once, not once per copy.
	if cg.Initializer, err = externalize(m, cg.Initializer, dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "check.onnx")
	if err := (&onnx.Model{Proto: mp}).Save(path); err != nil {
		return nil, err
	}
	// The finite differences need the loss only: a copy pruned to the
	// loss's ancestors runs the forward part alone.
	lg := &onnxpb.GraphProto{Name: cg.Name, Input: append([]*onnxpb.ValueInfoProto{}, cg.Input...), Output: cg.Output[:1], Initializer: cg.Initializer}
	lossNodes, err := fixedDropout(lg, onnx.Ancestors(cg.Node, cg.Output[0].GetName()))
	if err != nil {
		return nil, err
	}
	lg.Node = lossNodes
	for _, mk := range masks {
		lg.Input = append(lg.Input, boolInfo(mk))
	}
	lossPath := filepath.Join(dir, "loss.onnx")
	if err := (&onnx.Model{Proto: &onnxpb.ModelProto{IrVersion: mp.IrVersion, OpsetImport: mp.OpsetImport, Graph: lg}}).Save(lossPath); err != nil {
		return nil, err
	}
	var names []string
	for _, in := range cg.Input {
		names = append(names, in.GetName())
	}
	lossNames := append(append([]string{}, names...), masks...)
	outNames := []string{loss1}
	allOut := make([]string, len(cg.Output))
	for i, o := range cg.Output {
		allOut[i] = o.GetName()
	}
	copt := ort.DefaultCheckOptions()
	var lossSess *ort.Session
	defer func() {
		if lossSess != nil {
			lossSess.Close()
		}
	}()
	feedList := func(names []string) []ort.Tensor {
		out := make([]ort.Tensor, 0, len(names))
		for _, n := range names {
			out = append(out, *feeds[n])
		}
		return out
	}
	// Analytic gradients.
	full, err := ort.NewSession(path, names, allOut, copt)
	if err != nil {
		return nil, fmt.Errorf("gradcheck: load in ONNX Runtime: %w", err)
	}
	outs, err := full.Run(feedList(names))
	full.Close()
	if err != nil {
		return nil, fmt.Errorf("gradcheck: run: %w", err)
	}
	for i, mk := range masks {
		t := outs[len(g.Output)+i]
		feeds[mk] = &t
	}
	res.Evals++
	res.Loss = outs[0].Float64At(0)
	if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
		return nil, fmt.Errorf("gradcheck: loss is %v on random inputs", res.Loss)
	}
	lossAt := func() (float64, error) {
		if lossSess == nil {
			s, err := ort.NewSession(lossPath, lossNames, outNames, copt)
			if err != nil {
				return 0, err
			}
			lossSess = s
		}
		o, err := lossSess.Run(feedList(lossNames))
		if err != nil {
			return 0, err
		}
		res.Evals++
		return o[0].Float64At(0), nil
	}
	gmax := 0.0
	grads := make([]*ort.Tensor, len(params))
	for i := range params {
		grads[i] = &outs[i+1]
		for k := int64(0); k < grads[i].NumElements(); k++ {
			gmax = max(gmax, math.Abs(grads[i].Float64At(k)))
		}
	}
	res.Checked = len(pick)
	for _, i := range pick {
		p := params[i]
		gt := grads[i]
		w := feeds[p]
		n := gt.NumElements()
		pr := Param{Name: p}
		if n == 0 {
			res.Params = append(res.Params, pr) // an empty tensor has nothing to check
			continue
		}
		best := int64(0)
		for k := int64(0); k < n; k++ {
			a := math.Abs(gt.Float64At(k))
			pr.MaxAbsGrad = max(pr.MaxAbsGrad, a)
			if a > math.Abs(gt.Float64At(best)) {
				best = k
			}
		}
		floorFor := func(h float64) float64 {
			return math.Max(math.Max(1e-3*gmax, 1e-6*math.Abs(res.Loss)/h), 1e-12)
		}
		relErr := func(num, an, h float64) float64 {
			return math.Abs(num-an) / math.Max(math.Max(math.Abs(num), math.Abs(an)), floorFor(h))
		}
		// Direction check: d/dt L(w + t·g/‖g‖) = ‖g‖; the signal is the
		// whole tensor's gradient, far above float32 rounding.
		gnorm, wnorm := 0.0, 0.0
		for k := int64(0); k < n; k++ {
			gnorm += gt.Float64At(k) * gt.Float64At(k)
			wnorm += float64(getF32(w.Data, k)) * float64(getF32(w.Data, k))
		}
		gnorm, wnorm = math.Sqrt(gnorm), math.Sqrt(wnorm)
		if gnorm > 0 {
			orig := append([]byte{}, w.Data...)
			c := Coord{Index: -1, Analytic: gnorm, RelErr: math.Inf(1)}
			for _, t := range steps(math.Max(wnorm, 0.05), gnorm, res.Loss) {
				set := func(sign float64) {
					for k := int64(0); k < n; k++ {
						putF32(w.Data, k, float32(float64(getF32(orig, k))+sign*t*gt.Float64At(k)/gnorm))
					}
				}
				set(1)
				lp, err := lossAt()
				if err != nil {
					return nil, err
				}
				set(-1)
				lm, err := lossAt()
				copy(w.Data, orig)
				if err != nil {
					return nil, err
				}
				num := (lp - lm) / (2 * t)
				if e := relErr(num, gnorm, t); e < c.RelErr {
					c.RelErr, c.Numeric, c.Eps = e, num, t
				}
				if c.RelErr <= opt.Tolerance/5 { // clearly fine: no smaller step needed
					break
				}
			}
			pr.Coords = append(pr.Coords, c)
			pr.WorstRelErr = math.Max(pr.WorstRelErr, c.RelErr)
		}
		// Coordinate checks: the largest |gradient| (layout errors show
		// there), then random ones.
		coords := []int64{best}
		for len(coords) < opt.Coords && int64(len(coords)) < n {
			coords = append(coords, rng.Int64N(n))
		}
		for _, k := range coords {
			an := gt.Float64At(k)
			orig := getF32(w.Data, k)
			s := math.Max(math.Abs(float64(orig)), 0.05)
			c := Coord{Index: k, Analytic: an, RelErr: math.Inf(1)}
			for _, eps := range steps(s, math.Abs(an), res.Loss) {
				putF32(w.Data, k, float32(float64(orig)+eps))
				lp, err := lossAt()
				if err != nil {
					return nil, err
				}
				putF32(w.Data, k, float32(float64(orig)-eps))
				lm, err := lossAt()
				if err != nil {
					return nil, err
				}
				putF32(w.Data, k, orig)
				// The step actually taken in float32.
				h := float64(float32(float64(orig)+eps)) - float64(float32(float64(orig)-eps))
				num := (lp - lm) / h
				if e := relErr(num, an, h/2); e < c.RelErr {
					c.RelErr, c.Numeric, c.Eps = e, num, eps
				}
				if c.RelErr <= opt.Tolerance/5 { // clearly fine: no smaller step needed
					break
				}
			}
			pr.Coords = append(pr.Coords, c)
			pr.WorstRelErr = math.Max(pr.WorstRelErr, c.RelErr)
		}
		res.Params = append(res.Params, pr)
		if pr.WorstRelErr >= res.Worst {
			res.Worst, res.WorstParam = pr.WorstRelErr, p
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

func getF32(b []byte, i int64) float32 {
	return math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
}

func putF32(b []byte, i int64, v float32) {
	binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
}

// randomWeights stands in for external data that is absent: uniform in
// ±sqrt(3/fan_in) (unit variance through a linear layer), fan_in = product of
// all dims but the first.
func randomWeights(t *onnxpb.TensorProto, rng *rand.Rand) ([]byte, error) {
	if onnxpb.TensorProto_DataType(t.GetDataType()) != onnxpb.TensorProto_FLOAT {
		return nil, fmt.Errorf("external data absent and type %d is not float32", t.GetDataType())
	}
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	fan := int64(1)
	if len(t.Dims) > 1 {
		fan = n / t.Dims[0]
	}
	lim := math.Sqrt(3 / float64(fan))
	if len(t.Dims) <= 1 {
		lim = 0.1
	}
	out := make([]byte, 4*n)
	for i := int64(0); i < n; i++ {
		putF32(out, i, float32((2*rng.Float64()-1)*lim))
	}
	return out, nil
}

func valueInfo(name string, dims []int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
		ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: shape}}}}
}

// constantWeight returns a random initializer standing in for a forward
// ConstantOfShape node that fills a float weight with a nonzero constant
// from a constant shape, or nil. Backward nodes ("Grad/...", zeros) are
// left alone.
func constantWeight(m *onnx.Model, n *onnxpb.NodeProto, inits map[string]*onnxpb.TensorProto, rng *rand.Rand) *onnxpb.TensorProto {
	if n.GetOpType() != "ConstantOfShape" || strings.HasPrefix(n.GetName(), "Grad/") || len(n.Input) != 1 || len(n.Output) != 1 {
		return nil
	}
	var val *onnxpb.TensorProto
	for _, a := range n.Attribute {
		if a.GetName() == "value" {
			val = a.T
		}
	}
	if val == nil || onnxpb.TensorProto_DataType(val.GetDataType()) != onnxpb.TensorProto_FLOAT {
		return nil
	}
	if v, err := m.TensorFloat64s(val); err != nil || len(v) != 1 || v[0] == 0 {
		return nil
	}
	st := inits[n.Input[0]]
	if st == nil {
		return nil
	}
	dims, err := m.TensorInt64s(st)
	if err != nil {
		return nil
	}
	t := &onnxpb.TensorProto{Name: proto.String(n.Output[0]), Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT))}
	data, err := randomWeights(t, rng)
	if err != nil {
		return nil
	}
	t.RawData = data
	return t
}

func boolInfo(name string) *onnxpb.ValueInfoProto {
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
		ElemType: proto.Int32(int32(onnxpb.TensorProto_BOOL))}}}}
}

// fixedDropout replaces each Dropout node by Y = Where(mask, X·1/(1−r), 0),
// its mask output becoming a graph input (added by the caller).
func fixedDropout(g *onnxpb.GraphProto, nodes []*onnxpb.NodeProto) ([]*onnxpb.NodeProto, error) {
	ratios := map[string]*onnxpb.TensorProto{}
	for _, t := range g.Initializer {
		ratios[t.GetName()] = t
	}
	var out []*onnxpb.NodeProto
	for i, n := range nodes {
		if n.GetOpType() != "Dropout" || len(n.Output) < 2 || n.Output[1] == "" {
			out = append(out, n)
			continue
		}
		rt := ratios[n.Input[1]]
		if rt == nil {
			return nil, fmt.Errorf("gradcheck: dropout %s: ratio is not an initializer", n.GetName())
		}
		r, err := (&onnx.Model{}).TensorFloat64s(rt)
		if err != nil || len(r) != 1 {
			return nil, fmt.Errorf("gradcheck: dropout %s: ratio: %v", n.GetName(), err)
		}
		sc := fmt.Sprintf("__gradcheck_dropout%d_scale", i)
		zero := fmt.Sprintf("__gradcheck_dropout%d_zero", i)
		scaled := fmt.Sprintf("__gradcheck_dropout%d_scaled", i)
		g.Initializer = append(g.Initializer, scalar(sc, float32(1/(1-r[0]))), scalar(zero, 0))
		out = append(out,
			&onnxpb.NodeProto{OpType: proto.String("Mul"), Name: proto.String(scaled), Input: []string{n.Input[0], sc}, Output: []string{scaled}},
			&onnxpb.NodeProto{OpType: proto.String("Where"), Name: proto.String(n.GetName() + "__fixed"), Input: []string{n.Output[1], scaled, zero}, Output: []string{n.Output[0]}})
	}
	return out, nil
}

func scalar(name string, v float32) *onnxpb.TensorProto {
	b := make([]byte, 4)
	binary.LittleEndian.PutUint32(b, math.Float32bits(v))
	return &onnxpb.TensorProto{Name: proto.String(name), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: b}
}

// steps are the finite-difference steps to try for a weight of scale s and
// directional derivative g: 1e-2·s, then ten times smaller each, while the
// predicted loss change s·g stays 100 times above float32 rounding of the
// loss (1e-6·|loss|) — ill-conditioned nets (BatchNorm over two values)
// need tiny steps before they look linear. At least two steps.
func steps(s, g, loss float64) []float64 {
	noise := 1e-6 * math.Max(math.Abs(loss), 1e-3)
	var out []float64
	for rel := 1e-2; rel >= 1e-7; rel /= 10 {
		t := rel * s
		if len(out) >= 2 && t*g < 100*noise {
			break
		}
		out = append(out, t)
	}
	return out
}

// externalize moves initializers of 1 MiB or more into dir/weights.bin and
// returns the list with external references in their place.
func externalize(m *onnx.Model, inits []*onnxpb.TensorProto, dir string) ([]*onnxpb.TensorProto, error) {
	const file = "weights.bin"
	f, err := os.Create(filepath.Join(dir, file))
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var off int64
	out := make([]*onnxpb.TensorProto, len(inits))
	for i, t := range inits {
		out[i] = t
		if onnx.IsExternal(t) {
			continue // only missing external data was replaced; present data stays where it is
		}
		data, err := m.TensorBytes(t)
		if err != nil || len(data) < 1<<20 {
			continue
		}
		if _, err := w.Write(data); err != nil {
			f.Close()
			return nil, err
		}
		out[i] = &onnxpb.TensorProto{Name: t.Name, Dims: t.Dims, DataType: t.DataType,
			DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
			ExternalData: []*onnxpb.StringStringEntryProto{
				{Key: proto.String("location"), Value: proto.String(file)},
				{Key: proto.String("offset"), Value: proto.String(fmt.Sprint(off))},
				{Key: proto.String("length"), Value: proto.String(fmt.Sprint(len(data)))},
			}}
		off += int64(len(data))
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, err
	}
	return out, f.Close()
}
