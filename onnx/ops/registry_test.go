package ops

import (
	"testing"

	"github.com/onnx-recompute/recompute/onnx/onnxpb"
)

// issueOps is the op list of issue 2 item 4: standard ops, then ONNX Runtime
// training ops, plus the standard ops autodiff emits for backward graphs.
var issueOps = []string{
	":Conv", ":ConvTranspose", ":BatchNormalization", ":Relu", ":LeakyRelu", ":Sigmoid", ":Tanh",
	":HardSigmoid", ":Clip", ":MaxPool", ":AveragePool", ":GlobalAveragePool", ":LRN", ":Gemm",
	":MatMul", ":Add", ":Sub", ":Mul", ":Div", ":Sum", ":Pow", ":Sqrt", ":Erf", ":Concat", ":Split",
	":Slice", ":Flatten", ":Reshape", ":Transpose", ":Squeeze", ":Unsqueeze", ":Shape", ":Gather",
	":Expand", ":ConstantOfShape", ":Constant", ":Identity", ":Cast", ":Dropout", ":Resize",
	":Softmax", ":LogSoftmax", ":SoftmaxCrossEntropyLoss", ":LayerNormalization", ":ReduceMean",
	":ReduceSum", ":Where", ":Equal", ":Trilu",
	"com.microsoft:ConvGrad", "com.microsoft:ReluGrad", ":MaxPoolGrad", "com.microsoft:BatchNormInternal",
	"com.microsoft:BatchNormalizationGrad", "com.microsoft:SoftmaxCrossEntropyLossGrad",
	"com.microsoft:LayerNormalizationGrad", "com.microsoft:DropoutGrad", "com.microsoft:SoftmaxGrad_13",
	"com.microsoft:GatherGrad", "com.microsoft:GeluGrad", "com.microsoft:InPlaceAccumulatorV2",
	"com.microsoft:Scale",
	// backward graphs in standard ops
	":ScatterElements", ":ScatterND", ":GatherElements", ":Tile", ":ReduceMax", ":Neg", ":Exp", ":Log",
	":Reciprocal", ":Not", ":Less", ":Greater", ":Range", ":OneHot", ":Einsum", ":Max", ":Min", ":Abs",
	":Sign", ":Pad", ":Gelu", ":Mean", ":GreaterOrEqual", ":LessOrEqual", ":ReduceProd", ":Size",
}

func TestRegistryFacets(t *testing.T) {
	if len(registry) < len(issueOps) {
		t.Fatalf("registry has %d ops, fewer than the %d required", len(registry), len(issueOps))
	}
	for k, r := range registry {
		if r.Infer == nil || r.FLOPs == nil || r.Recompute == nil {
			t.Errorf("%s: missing a facet (Infer %v, FLOPs %v, Recompute %v)", k, r.Infer != nil, r.FLOPs != nil, r.Recompute != nil)
		}
		if key(r.Domain, r.Type) != k {
			t.Errorf("%s registered as %s", key(r.Domain, r.Type), k)
		}
	}
}

func TestRegistryCoversIssueOps(t *testing.T) {
	for _, k := range issueOps {
		if registry[k] == nil {
			t.Errorf("no rule for %s", k)
		}
	}
}

// TestRegistryRulesTolerateNothing runs every rule on a node with unknown
// inputs and no attributes: rules must not panic (Infer would turn a panic
// into a warning, but a rule should degrade to unknown outputs by itself).
func TestRegistryRulesTolerateNothing(t *testing.T) {
	for _, r := range Rules() {
		for nin := 0; nin <= 3; nin++ {
			n := &onnxpb.NodeProto{OpType: &r.Type, Domain: &r.Domain}
			for i := 0; i < nin; i++ {
				n.Input = append(n.Input, "x")
			}
			n.Output = []string{"y", "z"}
			c := &Ctx{N: n, Opset: 17, In: make([]Tensor, nin), InC: make([]*Const, nin),
				Out: []Tensor{unknownTensor, unknownTensor}, OutC: make([]*Const, 2),
				inf: &inferrer{r: &Result{Values: map[string]Tensor{}}, producer: map[string]int{}, g: &onnxpb.GraphProto{}}}
			for i := range c.In {
				c.In[i] = unknownTensor
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("%s with %d unknown inputs panics: %v", key(r.Domain, r.Type), nin, p)
					}
				}()
				_ = r.Infer(c)
			}()
			_ = r.FLOPs(n, c.In, c.Out)
			_ = r.Recompute(n)
		}
	}
}
