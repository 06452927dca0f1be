package bench

// PaperRow is one line of the paper's published minimum-memory table
// (PAPER.md §8): peak GPU memory in GB and the reduction from the unmodified
// run, measured in Chainer. These are the only numbers in RESULTS.md that this
// program does not measure.
type PaperRow struct {
	Network      string  `json:"network"`
	VanillaGB    float64 `json:"vanilla_gb"`
	ApproxGB     float64 `json:"approx_gb"`
	ApproxPct    float64 `json:"approx_reduction_pct"`
	ExactGB      float64 `json:"exact_gb"`
	ExactPct     float64 `json:"exact_reduction_pct"`
	ChenGB       float64 `json:"chen_gb"`
	ChenPct      float64 `json:"chen_reduction_pct"`
	TargetPct    float64 `json:"target_reduction_pct"` // the better of approx and exact: what we must reach
	PaperBatch   int     `json:"batch"`
	PaperInputPx int     `json:"input_px"`
}

// paperTable is PAPER.md §8, keyed by our model names.
var paperTable = map[string]PaperRow{
	"pspnet":      {Network: "PSPNet", VanillaGB: 9.4, ApproxGB: 2.7, ApproxPct: 71, ExactGB: 2.8, ExactPct: 70, ChenGB: 4.0, ChenPct: 58, TargetPct: 71, PaperBatch: 1, PaperInputPx: 713},
	"unet":        {Network: "U-Net", VanillaGB: 9.1, ApproxGB: 5.0, ApproxPct: 45, ExactGB: 4.7, ExactPct: 48, ChenGB: 7.4, ChenPct: 18, TargetPct: 48, PaperBatch: 8, PaperInputPx: 572},
	"resnet50":    {Network: "ResNet-50", VanillaGB: 8.9, ApproxGB: 3.4, ApproxPct: 62, ExactGB: 3.4, ExactPct: 62, ChenGB: 3.7, ChenPct: 59, TargetPct: 62, PaperBatch: 32, PaperInputPx: 224},
	"resnet152":   {Network: "ResNet-152", VanillaGB: 9.2, ApproxGB: 2.3, ApproxPct: 75, ExactGB: 2.3, ExactPct: 75, ChenGB: 2.4, ChenPct: 74, TargetPct: 75, PaperBatch: 32, PaperInputPx: 224},
	"vgg19":       {Network: "VGG-19", VanillaGB: 7.0, ApproxGB: 4.5, ApproxPct: 36, ExactGB: 4.5, ExactPct: 36, ChenGB: 4.7, ChenPct: 34, TargetPct: 36, PaperBatch: 32, PaperInputPx: 224},
	"densenet161": {Network: "DenseNet-161", VanillaGB: 8.5, ApproxGB: 1.6, ApproxPct: 81, ExactGB: 1.7, ExactPct: 80, ChenGB: 1.8, ChenPct: 79, TargetPct: 81, PaperBatch: 32, PaperInputPx: 224},
	"googlenet":   {Network: "GoogLeNet", VanillaGB: 8.5, ApproxGB: 5.2, ApproxPct: 39, ExactGB: 5.2, ExactPct: 39, ChenGB: 6.5, ChenPct: 24, TargetPct: 39, PaperBatch: 32, PaperInputPx: 224},
}

// paperCG maps a cg file's base name to the network of the paper table it was
// dumped from (the published graphs are named cg_<network>.txt).
func paperFor(name string) *PaperRow {
	key := name
	if len(key) > 3 && key[:3] == "cg_" {
		key = key[3:]
	}
	row, ok := paperTable[key]
	if !ok {
		return nil
	}
	return &row
}

// paperDefaults are the sizes the paper dumped its graphs at (PAPER.md §8);
// gpt2 is not in the paper, its size comes from the issue.
type sizes struct{ Batch, Size, Seq int }

var paperDefaults = map[string]sizes{
	"resnet50":    {32, 224, 0},
	"resnet101":   {32, 224, 0},
	"resnet152":   {32, 224, 0},
	"vgg19":       {32, 224, 0},
	"densenet161": {32, 224, 0},
	"googlenet":   {32, 224, 0},
	"unet":        {8, 572, 0},
	"pspnet":      {1, 713, 0},
	"gpt2":        {8, 0, 1024},
	"llama":       {8, 0, 1024}, // not in the paper: the tiny preset, gpt2's batch and sequence
}
