package autodiff

import "github.com/onnx-recompute/recompute/onnx/onnxpb"

// rule is the gradient of one op: given the output gradients dy (""
// where an output gets none) it adds gradient contributions to the inputs
// through b.addGrad. It reads only the forward values its formula needs.
type rule struct {
	fn func(b *builder, n *onnxpb.NodeProto, dy []string) error
	// diff lists the inputs gradients flow to (nil: all). Other inputs
	// (shapes, axes, indices, ratios, …) never make a parameter trainable.
	diff []int
	// outs lists the outputs gradients flow from (nil: all).
	outs []int
}

func (r rule) differentiable(i int) bool { return r.diff == nil || contains(r.diff, i) }

func (r rule) outputDifferentiable(i int) bool { return r.outs == nil || contains(r.outs, i) }

func contains(v []int, x int) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

var x0 = []int{0}

// rules is the one table of supported ops; each rule lives in the file of
// its op family.
var rules map[string]rule

func init() {
	rules = map[string]rule{
		// elementwise.go
		"Add":        {fn: gradAdd},
		"Sub":        {fn: gradSub},
		"Mul":        {fn: gradMul},
		"Div":        {fn: gradDiv},
		"Sum":        {fn: gradSum},
		"Mean":       {fn: gradMean},
		"Max":        {fn: gradMaxMin},
		"Min":        {fn: gradMaxMin},
		"Pow":        {fn: gradPow},
		"Where":      {fn: gradWhere, diff: []int{1, 2}},
		"Neg":        {fn: gradNeg},
		"Sqrt":       {fn: gradSqrt},
		"Reciprocal": {fn: gradReciprocal},
		"Exp":        {fn: gradExp},
		"Log":        {fn: gradLog},
		"Identity":   {fn: gradIdentity},
		"Cast":       {fn: gradCast},
		"CastLike":   {fn: gradCast, diff: x0},
		// activation.go
		"Relu":            {fn: gradRelu},
		"LeakyRelu":       {fn: gradLeakyRelu},
		"Sigmoid":         {fn: gradSigmoid},
		"Tanh":            {fn: gradTanh},
		"HardSigmoid":     {fn: gradHardSigmoid},
		"Clip":            {fn: gradClip, diff: x0},
		"Erf":             {fn: gradErf},
		"Softmax":         {fn: gradSoftmax},
		"Abs":             {fn: gradAbs},
		"Softplus":        {fn: gradSoftplus},
		"Elu":             {fn: gradElu},
		"Sin":             {fn: gradSin},
		"Cos":             {fn: gradCos},
		"Selu":            {fn: gradSelu},
		"HardSwish":       {fn: gradHardSwish},
		"PRelu":           {fn: gradPRelu},
		"LogSoftmax":      {fn: gradLogSoftmax},
		"Tan":             {fn: gradTan},
		"Asin":            {fn: gradAsin},
		"Acos":            {fn: gradAcos},
		"Atan":            {fn: gradAtan},
		"Sinh":            {fn: gradSinh},
		"Cosh":            {fn: gradCosh},
		"Asinh":           {fn: gradAsinh},
		"Acosh":           {fn: gradAcosh},
		"Atanh":           {fn: gradAtanh},
		"Softsign":        {fn: gradSoftsign},
		"ThresholdedRelu": {fn: gradThresholdedRelu},
		"Shrink":          {fn: gradShrink},
		"Celu":            {fn: gradCelu},
		// matmul.go
		"Gemm":   {fn: gradGemm},
		"MatMul": {fn: gradMatMul},
		"Einsum": {fn: gradEinsum},
		// conv.go
		"Conv":          {fn: gradConv},
		"ConvTranspose": {fn: gradConvTranspose},
		// pool.go
		"MaxPool":           {fn: gradMaxPool, diff: x0, outs: x0},
		"AveragePool":       {fn: gradAveragePool},
		"GlobalAveragePool": {fn: gradGlobalAveragePool},
		"GlobalMaxPool":     {fn: gradGlobalMaxPool},
		// norm.go
		"BatchNormalization":    {fn: gradBatchNorm, diff: []int{0, 1, 2}, outs: x0},
		"LayerNormalization":    {fn: gradLayerNorm, diff: []int{0, 1, 2}, outs: x0},
		"LRN":                   {fn: gradLRN},
		"InstanceNormalization": {fn: gradInstanceNorm},
		// shape.go
		"Reshape":      {fn: gradReshapeLike, diff: x0},
		"Flatten":      {fn: gradReshapeLike},
		"Squeeze":      {fn: gradReshapeLike, diff: x0},
		"Unsqueeze":    {fn: gradReshapeLike, diff: x0},
		"Transpose":    {fn: gradTranspose},
		"Concat":       {fn: gradConcat},
		"Split":        {fn: gradSplit, diff: x0},
		"Slice":        {fn: gradSlice, diff: x0},
		"Expand":       {fn: gradExpand, diff: x0},
		"Pad":          {fn: gradPad, diff: x0},
		"Tile":         {fn: gradTile, diff: x0},
		"CumSum":       {fn: gradCumSum, diff: x0},
		"Trilu":        {fn: gradTrilu, diff: x0},
		"DepthToSpace": {fn: gradDepthToSpace},
		"SpaceToDepth": {fn: gradSpaceToDepth},
		// reduce.go
		"ReduceMean":      {fn: gradReduceMean, diff: x0},
		"ReduceSum":       {fn: gradReduceSum, diff: x0},
		"ReduceMax":       {fn: gradReduceExtreme, diff: x0},
		"ReduceMin":       {fn: gradReduceExtreme, diff: x0},
		"ReduceSumSquare": {fn: gradReduceSumSquare, diff: x0},
		"ReduceL1":        {fn: gradReduceL1, diff: x0},
		"ReduceL2":        {fn: gradReduceL2, diff: x0},
		"ReduceLogSumExp": {fn: gradReduceLogSumExp, diff: x0},
		"ReduceLogSum":    {fn: gradReduceLogSum, diff: x0},
		// resize.go
		"Resize": {fn: gradResize, diff: x0},
		// gather.go
		"Gather":         {fn: gradGather, diff: x0},
		"GatherElements": {fn: gradGatherElements, diff: x0},
		"TopK":           {fn: gradTopK, diff: x0, outs: x0},
		// dropout.go
		"Dropout": {fn: gradDropout, diff: x0, outs: x0},
		// loss.go
		"SoftmaxCrossEntropyLoss":   {fn: gradSCE, diff: x0, outs: x0},
		"NegativeLogLikelihoodLoss": {fn: gradNLL, diff: x0},
	}
	// Ops whose outputs carry no gradient (shapes, comparisons, indices):
	// a gradient never flows through them.
	for _, op := range []string{"Shape", "Size", "Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual",
		"Not", "And", "Or", "Xor", "ArgMax", "ArgMin", "NonZero", "ConstantOfShape", "Sign", "Floor", "Ceil",
		"Round", "Constant", "Range", "EyeLike", "IsNaN", "IsInf", "OneHot", "Hardmax"} {
		if _, ok := rules[op]; !ok {
			rules[op] = rule{fn: noGrad, outs: []int{}}
		}
	}
}

// Supported lists the ops with a gradient rule.
func Supported() []string {
	out := make([]string, 0, len(rules))
	for k := range rules {
		out = append(out, k)
	}
	return out
}

// GradientFree reports whether op is known to pass no gradient (shapes,
// comparisons, indices, rounding).
func GradientFree(op string) bool {
	r, ok := rules[op]
	return ok && r.outs != nil && len(r.outs) == 0
}
