package models

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"runtime"
	"strconv"
	"sync"

	"github.com/onnx-recompute/recompute/onnx/build"
	"github.com/onnx-recompute/recompute/onnx/onnxpb"
	"google.golang.org/protobuf/proto"
)

// NoWeightsLocation is the external-data location written into every float
// initializer of a NoWeights model. No such file exists: the tensor has its
// full static shape and type but no data.
const NoWeightsLocation = "NO_WEIGHTS"

// sizeError is raised (as a panic) by the layer helpers when the requested
// input size does not work for a network; Build recovers it and returns it.
// It never leaves the package.
type sizeError struct{ msg string }

func (e sizeError) Error() string { return e.msg }

func failf(format string, a ...any) { panic(sizeError{fmt.Sprintf(format, a...)}) }

// fillJob is the deferred random fill of one initializer's raw bytes, run in
// parallel at the end of Build.
type fillJob struct {
	raw   []byte
	seed  uint64
	limit float32 // uniform in [-limit, limit); 0 means constant value
	value float32
}

// net builds one network: it tracks the static shape of every value it
// creates so that layers can size their weights and Build can reject input
// sizes a network cannot take.
type net struct {
	b         *build.Graph
	shape     map[string][]int64
	noWeights bool
	seed      uint64
	jobs      []fillJob
	extOffset int64
	cache     map[string]string // shared constants by key
}

func newNet(name string, opt Options) *net {
	return &net{
		b:         build.New(name),
		shape:     map[string][]int64{},
		noWeights: opt.NoWeights,
		seed:      1,
		cache:     map[string]string{},
	}
}

// dims returns the tracked shape of value v.
func (n *net) dims(v string) []int64 {
	d, ok := n.shape[v]
	if !ok {
		panic(fmt.Sprintf("models: internal error: no shape for %q", v))
	}
	return d
}

func (n *net) set(v string, d []int64) string {
	n.shape[v] = d
	return v
}

// input declares a graph input.
func (n *net) input(name string, elem onnxpb.TensorProto_DataType, d []int64) string {
	n.b.Input(name, elem, d)
	return n.set(name, d)
}

// output declares v as the graph output.
func (n *net) output(v string) {
	n.b.Output(v, onnxpb.TensorProto_FLOAT, n.dims(v))
}

func numel(d []int64) int64 {
	p := int64(1)
	for _, x := range d {
		p *= x
	}
	return p
}

// param adds a trainable float initializer filled uniformly in [-limit, limit)
// (or with the constant value when limit is 0). The fill is deferred so that
// Build can run all fills in parallel.
func (n *net) param(name string, d []int64, limit, value float32) string {
	size := numel(d)
	t := &onnxpb.TensorProto{
		Name:     proto.String(name),
		Dims:     d,
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)),
	}
	if n.noWeights {
		t.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
		t.ExternalData = []*onnxpb.StringStringEntryProto{
			{Key: proto.String("location"), Value: proto.String(NoWeightsLocation)},
			{Key: proto.String("offset"), Value: proto.String(strconv.FormatInt(n.extOffset, 10))},
			{Key: proto.String("length"), Value: proto.String(strconv.FormatInt(4*size, 10))},
		}
		n.extOffset += 4 * size
	} else {
		t.RawData = make([]byte, 4*size)
		h := fnv.New64a()
		h.Write([]byte(name))
		n.jobs = append(n.jobs, fillJob{raw: t.RawData, seed: h.Sum64() ^ n.seed, limit: limit, value: value})
	}
	n.b.Initializer(t)
	return n.set(name, d)
}

// heLimit is the bound of a uniform distribution with variance gain/fanIn.
func heLimit(gain float64, fanIn int64) float32 {
	return float32(math.Sqrt(3 * gain / float64(fanIn)))
}

// fill runs the deferred initializer fills on all cores. Each tensor's
// stream is seeded from its name, so the bytes do not depend on scheduling.
func (n *net) fill() {
	workers := runtime.GOMAXPROCS(0)
	// Split big tensors into chunks so that one huge embedding does not
	// serialise the whole fill; each chunk reseeds from (tensor seed, chunk).
	const chunk = 1 << 20 // floats
	type piece struct {
		job    fillJob
		lo, hi int
	}
	ch := make(chan piece, 64)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range ch {
				fillRange(p.job, p.lo, p.hi)
			}
		}()
	}
	for _, j := range n.jobs {
		count := len(j.raw) / 4
		for lo := 0; lo < count; lo += chunk {
			ch <- piece{j, lo, min(lo+chunk, count)}
		}
	}
	close(ch)
	wg.Wait()
	n.jobs = nil
}

// fillRange writes floats [lo, hi) of job j with a splitmix64 stream seeded
// from the job's seed and the chunk start.
func fillRange(j fillJob, lo, hi int) {
	raw := j.raw
	if j.limit == 0 {
		bits := math.Float32bits(j.value)
		if bits == 0 {
			return // already zero
		}
		for i := lo; i < hi; i++ {
			binary.LittleEndian.PutUint32(raw[4*i:], bits)
		}
		return
	}
	s := j.seed ^ (uint64(lo) * 0x9e3779b97f4a7c15)
	scale := 2 * j.limit / (1 << 24)
	for i := lo; i < hi; i++ {
		s += 0x9e3779b97f4a7c15
		z := s
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
		v := float32(z>>40)*scale - j.limit
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
}

// ints returns a shared int64 initializer holding vals (shapes, slice
// bounds, indices: never trainable, always stored inline).
func (n *net) ints(dims []int64, vals ...int64) string {
	key := fmt.Sprint("i", dims, vals)
	if v, ok := n.cache[key]; ok {
		return v
	}
	name := n.b.Fresh("const_i64")
	n.b.Initializer(build.Int64s(name, dims, vals))
	n.cache[key] = name
	return n.set(name, dims)
}

// scalar returns a shared Constant node output holding one float (a
// Constant node rather than an initializer, so it is not trainable).
func (n *net) scalar(v float32) string {
	key := fmt.Sprint("f", v)
	if name, ok := n.cache[key]; ok {
		return name
	}
	name := n.b.Fresh("const_f32")
	n.b.Node("Constant", name, nil, []string{name}, build.AttrTensor("value", build.Float32s("", nil, []float32{v})))
	n.cache[key] = name
	return n.set(name, []int64{})
}

// constFloats returns a Constant node output holding a float tensor.
func (n *net) constFloats(prefix string, dims []int64, vals []float32) string {
	name := n.b.Fresh(prefix)
	n.b.Node("Constant", name, nil, []string{name}, build.AttrTensor("value", build.Float32s("", dims, vals)))
	return n.set(name, dims)
}

// filled returns a shared [c] float tensor of value v made by ConstantOfShape
// (BatchNormalization's running mean and variance: not trainable, tiny in
// the file).
func (n *net) filled(c int64, v float32) string {
	key := fmt.Sprint("fill", c, v)
	if name, ok := n.cache[key]; ok {
		return name
	}
	name := n.b.Fresh(fmt.Sprintf("bn_stat_%g", v))
	n.b.Node("ConstantOfShape", name, []string{n.ints([]int64{1}, c)}, []string{name},
		build.AttrTensor("value", build.Float32s("", []int64{1}, []float32{v})))
	n.cache[key] = name
	return n.set(name, []int64{c})
}

// convOut is the output length of a convolution or pooling window.
func convOut(in, k, s, p, d int64, ceil bool) int64 {
	num := in + 2*p - d*(k-1) - 1
	if num < 0 {
		return 0
	}
	if ceil {
		return (num+s-1)/s + 1
	}
	return num/s + 1
}

type convSpec struct {
	cout          int64
	k, s, p, d, g int64
	bias          bool
	gain          float64 // variance gain of the weight init (2 = He)
}

// conv adds a square 2-D convolution named name.
func (n *net) conv(x, name string, c convSpec) string {
	if c.s == 0 {
		c.s = 1
	}
	if c.d == 0 {
		c.d = 1
	}
	if c.g == 0 {
		c.g = 1
	}
	if c.gain == 0 {
		c.gain = 2
	}
	in := n.dims(x)
	cin := in[1]
	h, w := convOut(in[2], c.k, c.s, c.p, c.d, false), convOut(in[3], c.k, c.s, c.p, c.d, false)
	if h <= 0 || w <= 0 {
		failf("%s: a %dx%d input leaves nothing for a %dx%d kernel (input size too small)", name, in[2], in[3], c.k, c.k)
	}
	fanIn := cin / c.g * c.k * c.k
	wt := n.param(name+".weight", []int64{c.cout, cin / c.g, c.k, c.k}, heLimit(c.gain, fanIn), 0)
	inputs := []string{x, wt}
	if c.bias {
		inputs = append(inputs, n.param(name+".bias", []int64{c.cout}, heLimit(1.0/3, fanIn), 0))
	}
	attrs := []*onnxpb.AttributeProto{
		build.AttrInts("kernel_shape", c.k, c.k),
		build.AttrInts("strides", c.s, c.s),
		build.AttrInts("pads", c.p, c.p, c.p, c.p),
		build.AttrInts("dilations", c.d, c.d),
	}
	if c.g != 1 {
		attrs = append(attrs, build.AttrInt("group", c.g))
	}
	out := n.b.Op("Conv", name, inputs, attrs...)
	return n.set(out, []int64{in[0], c.cout, h, w})
}

// convT adds a ConvTranspose with kernel k and stride k (exact k-fold
// upsampling), with bias.
func (n *net) convT(x, name string, cout, k int64) string {
	in := n.dims(x)
	cin := in[1]
	fanIn := cin // stride == kernel: each output pixel sees one tap of each input channel
	wt := n.param(name+".weight", []int64{cin, cout, k, k}, heLimit(2, fanIn), 0)
	bias := n.param(name+".bias", []int64{cout}, heLimit(1.0/3, fanIn), 0)
	out := n.b.Op("ConvTranspose", name, []string{x, wt, bias},
		build.AttrInts("kernel_shape", k, k), build.AttrInts("strides", k, k))
	return n.set(out, []int64{in[0], cout, in[2] * k, in[3] * k})
}

// bn adds an inference-mode BatchNormalization with learned scale (init
// gamma) and bias (0), running mean 0 and variance 1.
func (n *net) bn(x, name string, eps float32, gamma float32) string {
	d := n.dims(x)
	c := d[1]
	scale := n.param(name+".weight", []int64{c}, 0, gamma)
	bias := n.param(name+".bias", []int64{c}, 0, 0)
	out := n.b.Op("BatchNormalization", name, []string{x, scale, bias, n.filled(c, 0), n.filled(c, 1)},
		build.AttrFloat("epsilon", eps), build.AttrFloat("momentum", 0.9))
	return n.set(out, d)
}

func (n *net) unary(op, x, name string) string {
	out := n.b.Op(op, name, []string{x})
	return n.set(out, n.dims(x))
}

func (n *net) relu(x, name string) string { return n.unary("Relu", x, name) }

// binary adds an elementwise op with numpy broadcasting.
func (n *net) binary(op, a, b, name string) string {
	da, db := n.dims(a), n.dims(b)
	r := max(len(da), len(db))
	out := make([]int64, r)
	for i := range r {
		x, y := int64(1), int64(1)
		if j := i - (r - len(da)); j >= 0 {
			x = da[j]
		}
		if j := i - (r - len(db)); j >= 0 {
			y = db[j]
		}
		switch {
		case x == y || y == 1:
			out[i] = x
		case x == 1:
			out[i] = y
		default:
			panic(fmt.Sprintf("models: internal error: %s: cannot broadcast %v and %v", name, da, db))
		}
	}
	o := n.b.Op(op, name, []string{a, b})
	return n.set(o, out)
}

func (n *net) add(a, b, name string) string { return n.binary("Add", a, b, name) }

// pool adds MaxPool or AveragePool with a square window.
func (n *net) pool(op, x, name string, k, s, p int64, ceil bool) string {
	in := n.dims(x)
	h, w := convOut(in[2], k, s, p, 1, ceil), convOut(in[3], k, s, p, 1, ceil)
	if h <= 0 || w <= 0 {
		failf("%s: a %dx%d input is too small for a %dx%d pooling window (input size too small)", name, in[2], in[3], k, k)
	}
	attrs := []*onnxpb.AttributeProto{
		build.AttrInts("kernel_shape", k, k),
		build.AttrInts("strides", s, s),
		build.AttrInts("pads", p, p, p, p),
	}
	if ceil {
		attrs = append(attrs, build.AttrInt("ceil_mode", 1))
	}
	out := n.b.Op(op, name, []string{x}, attrs...)
	return n.set(out, []int64{in[0], in[1], h, w})
}

func (n *net) gap(x, name string) string {
	in := n.dims(x)
	out := n.b.Op("GlobalAveragePool", name, []string{x})
	return n.set(out, []int64{in[0], in[1], 1, 1})
}

// adaptiveAvgPool is PyTorch's AdaptiveAvgPool2d(out): bin i of an axis of
// length L averages [floor(i*L/out), ceil((i+1)*L/out)). When L divides by
// out it is an AveragePool; otherwise it is two MatMuls with constant
// averaging matrices (exact for any L, also L < out).
func (n *net) adaptiveAvgPool(x, name string, out int64) string {
	in := n.dims(x)
	h, w := in[2], in[3]
	switch {
	case out == 1:
		return n.gap(x, name)
	case h == out && w == out:
		return x
	case h == w && h%out == 0:
		return n.pool("AveragePool", x, name, h/out, h/out, 0, false)
	}
	rows := n.constFloats(name+".rows", []int64{out, h}, poolMatrix(out, h, false))
	cols := n.constFloats(name+".cols", []int64{w, out}, poolMatrix(out, w, true))
	t := n.b.Op("MatMul", name+".h", []string{rows, x})
	n.set(t, []int64{in[0], in[1], out, w})
	o := n.b.Op("MatMul", name, []string{t, cols})
	return n.set(o, []int64{in[0], in[1], out, out})
}

// poolMatrix returns the [out, l] adaptive-average matrix, or its transpose
// [l, out] when transposed.
func poolMatrix(out, l int64, transposed bool) []float32 {
	m := make([]float32, out*l)
	for i := range out {
		s, e := i*l/out, ((i+1)*l+out-1)/out
		for j := s; j < e; j++ {
			if transposed {
				m[j*out+i] = 1 / float32(e-s)
			} else {
				m[i*l+j] = 1 / float32(e-s)
			}
		}
	}
	return m
}

// flatten reshapes [N, ...] to [N, rest].
func (n *net) flatten(x, name string) string {
	in := n.dims(x)
	out := n.b.Op("Flatten", name, []string{x}, build.AttrInt("axis", 1))
	return n.set(out, []int64{in[0], numel(in[1:])})
}

// linear adds Gemm(x, W^T) + b with W [out, in] (torch layout).
func (n *net) linear(x, name string, out int64, gain float64) string {
	in := n.dims(x)
	wt := n.param(name+".weight", []int64{out, in[1]}, heLimit(gain, in[1]), 0)
	b := n.param(name+".bias", []int64{out}, heLimit(1.0/3, in[1]), 0)
	o := n.b.Op("Gemm", name, []string{x, wt, b}, build.AttrInt("transB", 1))
	return n.set(o, []int64{in[0], out})
}

// concat joins values along axis.
func (n *net) concat(xs []string, name string, axis int) string {
	d := append([]int64(nil), n.dims(xs[0])...)
	for _, x := range xs[1:] {
		d[axis] += n.dims(x)[axis]
	}
	o := n.b.Op("Concat", name, xs, build.AttrInt("axis", int64(axis)))
	return n.set(o, d)
}

// resize bilinearly resizes the two spatial axes of x to h x w.
func (n *net) resize(x, name string, h, w int64) string {
	in := n.dims(x)
	sizes := n.ints([]int64{4}, in[0], in[1], h, w)
	o := n.b.Op("Resize", name, []string{x, "", "", sizes},
		build.AttrString("mode", "linear"),
		build.AttrString("coordinate_transformation_mode", "half_pixel"))
	return n.set(o, []int64{in[0], in[1], h, w})
}

// crop takes the centre h x w window of x's spatial axes with Slice.
func (n *net) crop(x, name string, h, w int64) string {
	in := n.dims(x)
	dh, dw := in[2]-h, in[3]-w
	if dh < 0 || dw < 0 || dh%2 != 0 || dw%2 != 0 {
		failf("%s: cannot centre-crop %dx%d to %dx%d", name, in[2], in[3], h, w)
	}
	starts := n.ints([]int64{2}, dh/2, dw/2)
	ends := n.ints([]int64{2}, dh/2+h, dw/2+w)
	axes := n.ints([]int64{2}, 2, 3)
	o := n.b.Op("Slice", name, []string{x, starts, ends, axes})
	return n.set(o, []int64{in[0], in[1], h, w})
}

// reshape reshapes x to the static shape d.
func (n *net) reshape(x, name string, d ...int64) string {
	if numel(d) != numel(n.dims(x)) {
		panic(fmt.Sprintf("models: internal error: %s: reshape %v to %v", name, n.dims(x), d))
	}
	o := n.b.Op("Reshape", name, []string{x, n.ints([]int64{int64(len(d))}, d...)})
	return n.set(o, d)
}

func (n *net) transpose(x, name string, perm ...int64) string {
	in := n.dims(x)
	d := make([]int64, len(perm))
	for i, p := range perm {
		d[i] = in[p]
	}
	o := n.b.Op("Transpose", name, []string{x}, build.AttrInts("perm", perm...))
	return n.set(o, d)
}

// matmul multiplies with numpy MatMul semantics (batch dims broadcast).
func (n *net) matmul(a, b, name string) string {
	da, db := n.dims(a), n.dims(b)
	if da[len(da)-1] != db[len(db)-2] {
		panic(fmt.Sprintf("models: internal error: %s: matmul %v x %v", name, da, db))
	}
	ba, bb := da[:len(da)-2], db[:len(db)-2]
	r := max(len(ba), len(bb))
	d := make([]int64, 0, r+2)
	for i := range r {
		x, y := int64(1), int64(1)
		if j := i - (r - len(ba)); j >= 0 {
			x = ba[j]
		}
		if j := i - (r - len(bb)); j >= 0 {
			y = bb[j]
		}
		d = append(d, max(x, y))
	}
	d = append(d, da[len(da)-2], db[len(db)-1])
	o := n.b.Op("MatMul", name, []string{a, b})
	return n.set(o, d)
}
