package bench

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/onnx-recompute/recompute/onnx"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

const gib = 1 << 30

// palette: distinguishable in colour and in grey (markers differ too).
var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, // red
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
	color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, // purple
	color.RGBA{R: 0x8c, G: 0x56, B: 0x4b, A: 0xff}, // brown
}

var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.SquareGlyph{},
	draw.PlusGlyph{}, draw.CrossGlyph{}, draw.RingGlyph{},
}

// title names the network and its sizes.
func title(n *Network) string {
	switch {
	case n.Source != "built-in":
		return fmt.Sprintf("%s (%s)", n.Name, n.Source)
	case n.Seq > 0:
		return fmt.Sprintf("%s (batch %d, sequence %d)", n.Name, n.Batch, n.Seq)
	default:
		return fmt.Sprintf("%s (batch %d, %d×%d)", n.Name, n.Batch, n.Size, n.Size)
	}
}

// TradeoffPlot draws transient peak (GiB) against overhead (%) over the budget
// sweep: one line per strategy, plus the none and Chen points.
func TradeoffPlot(n *Network) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title(n) + ": peak memory vs recomputation overhead"
	p.X.Label.Text = fmt.Sprintf("recomputation overhead (%% of forward %s)", n.CostUnit)
	p.Y.Label.Text = "simulated transient peak (GiB)"
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	entries := 0
	var xmax, ymax float64
	grow := func(xy plotter.XYs) {
		for _, v := range xy {
			xmax, ymax = math.Max(xmax, v.X), math.Max(ymax, v.Y)
		}
	}
	for i, c := range n.Sweep {
		var xy plotter.XYs
		pts := append([]Point(nil), c.Points...)
		sort.Slice(pts, func(a, b int) bool { return pts[a].BudgetFrac < pts[b].BudgetFrac })
		for _, pt := range pts {
			if pt.PeakBytes > 0 {
				xy = append(xy, plotter.XY{X: pt.Overhead, Y: float64(pt.PeakBytes) / gib})
			}
		}
		if len(xy) == 0 {
			continue
		}
		grow(xy)
		line, sc, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil, fmt.Errorf("curve %s: %w", c.Label, err)
		}
		col := palette[i%len(palette)]
		line.Color = col
		line.Width = vg.Points(1.5)
		if i%2 == 1 {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		sc.Color = col
		sc.Shape = glyphs[i%len(glyphs)]
		sc.Radius = vg.Points(3)
		p.Add(line, sc)
		p.Legend.Add(c.Label, line, sc)
		entries++
	}
	// Single points: none, Chen and each strategy's memory-centric minimum
	// (in its TC curve's colour, hollow).
	curveColor := map[string]color.Color{}
	for i, c := range n.Sweep {
		curveColor[strings.TrimSuffix(c.Label, " TC")] = palette[i%len(palette)]
	}
	extra := len(n.Sweep)
	for _, r := range n.Rows {
		if !r.OK() || (r.Label != "none" && r.Label != "chen" && r.Objective != "memory") {
			continue
		}
		xy := plotter.XYs{{X: r.Overhead, Y: float64(r.PeakBytes) / gib}}
		grow(xy)
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, err
		}
		sc.Radius = vg.Points(5)
		switch {
		case r.Label == "none":
			sc.Shape = draw.BoxGlyph{}
			sc.Color = color.Black
		case r.Label == "chen":
			sc.Shape = draw.PyramidGlyph{}
			sc.Color = color.Gray{Y: 0x70}
		default:
			col, ok := curveColor[r.Strategy]
			if !ok {
				col = palette[extra%len(palette)]
				extra++
			}
			sc.Shape = draw.RingGlyph{}
			sc.Color = col
			sc.Radius = vg.Points(6)
		}
		p.Add(sc)
		label := r.Label
		if r.Objective == "memory" {
			label += " (minimum memory)"
		}
		p.Legend.Add(label, sc)
		entries++
	}
	frame(p, entries, xmax, ymax)
	return p, nil
}

// TimelinePlot draws live transient bytes over the schedule, before (none)
// and after (the minimum-memory plan).
func TimelinePlot(n *Network) (*plot.Plot, error) {
	t := n.Timeline
	if t == nil {
		return nil, fmt.Errorf("%s: no timeline", n.Name)
	}
	p := plot.New()
	p.Title.Text = title(n) + ": live memory over the schedule"
	p.X.Label.Text = "schedule step (compute and free steps)"
	p.Y.Label.Text = "live transient memory (GiB)"
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	var xmax, ymax float64
	for i, s := range []struct {
		label  string
		levels []Level
	}{
		{"before: none", t.None},
		{"after: " + t.AfterLabel, t.After},
	} {
		if len(s.levels) == 0 {
			continue
		}
		xy := make(plotter.XYs, len(s.levels))
		for j, l := range s.levels {
			xy[j] = plotter.XY{X: float64(l.Step), Y: float64(l.Bytes) / gib}
			xmax, ymax = math.Max(xmax, xy[j].X), math.Max(ymax, xy[j].Y)
		}
		line, err := plotter.NewLine(xy)
		if err != nil {
			return nil, fmt.Errorf("timeline %s: %w", s.label, err)
		}
		line.Color = palette[i]
		line.Width = vg.Points(1.2)
		p.Add(line)
		p.Legend.Add(s.label, line)
	}
	frame(p, 2, xmax, ymax)
	return p, nil
}

// Downsample keeps at most about max levels of a timeline while keeping every
// bucket's minimum and maximum, so the plotted peak is the true peak.
func Downsample(live []int64, max int) []Level {
	if max < 4 {
		max = 4
	}
	if len(live) <= max {
		out := make([]Level, len(live))
		for i, b := range live {
			out[i] = Level{Step: i, Bytes: b}
		}
		return out
	}
	bucket := (len(live) + max/2 - 1) / (max / 2)
	out := make([]Level, 0, max+2)
	for lo := 0; lo < len(live); lo += bucket {
		hi := min(lo+bucket, len(live))
		iMin, iMax := lo, lo
		for i := lo; i < hi; i++ {
			if live[i] < live[iMin] {
				iMin = i
			}
			if live[i] > live[iMax] {
				iMax = i
			}
		}
		a, b := iMin, iMax
		if a > b {
			a, b = b, a
		}
		out = append(out, Level{Step: a, Bytes: live[a]})
		if b != a {
			out = append(out, Level{Step: b, Bytes: live[b]})
		}
	}
	return out
}

// niceTicks labels about six round values (1, 2, 2.5 or 5 times a power of
// ten) without gonum's fixed two decimals, with unlabelled minor ticks between.
type niceTicks struct{}

func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(hi-lo, 0) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	raw := (hi - lo) / 6
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	step := pow
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*pow >= raw {
			step = m * pow
			break
		}
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		v := math.Round(v/step) * step
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
		if mid := v + step/2; mid <= hi {
			ticks = append(ticks, plot.Tick{Value: mid})
		}
	}
	return ticks
}

// frame sets round ticks and leaves headroom above the data for the legend
// and a margin right of it, so no label sits on a line.
func frame(p *plot.Plot, legendRows int, xmax, ymax float64) {
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	p.Title.Padding = vg.Points(6)
	p.Legend.Padding = vg.Points(2)
	p.Legend.XOffs = -vg.Points(6)
	p.Legend.YOffs = -vg.Points(4)
	if xmax <= 0 && ymax <= 0 {
		return
	}
	p.X.Min, p.Y.Min = 0, 0
	p.X.Max = xmax + 0.04*math.Max(xmax, 1)
	// The legend needs about 6% of the height per entry.
	p.Y.Max = ymax * (1.08 + 0.07*float64(legendRows))
	if p.Y.Max <= 0 {
		p.Y.Max = 1
	}
}

// One figure per network: the trade-off above, the timeline below, sized
// to be read at once on a screen or in a README.
var figW, panelH = 8 * vg.Inch, 4.5 * vg.Inch

// WritePlots saves the network's figure (trade-off panel, and the timeline
// panel when there is a timeline) as <name>.svg and <name>.png in dir and
// returns the file names written.
func WritePlots(dir string, n *Network) ([]string, error) {
	trade, err := TradeoffPlot(n)
	if err != nil {
		return nil, err
	}
	panels := [][]*plot.Plot{{trade}}
	if n.Timeline != nil {
		tl, err := TimelinePlot(n)
		if err != nil {
			return nil, err
		}
		panels = append(panels, []*plot.Plot{tl})
	}
	h := panelH * vg.Length(len(panels))
	var names []string
	for _, ext := range []string{"svg", "png"} {
		var c interface {
			vg.CanvasSizer
			io.WriterTo
		}
		switch ext {
		case "svg":
			c = vgsvg.New(figW, h)
		default:
			c = vgimg.PngCanvas{Canvas: vgimg.New(figW, h)}
		}
		tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadY: vg.Points(18), PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8)}
		canvases := plot.Align(panels, tiles, draw.New(c))
		for i := range panels {
			panels[i][0].Draw(canvases[i][0])
		}
		name := n.Name + "." + ext
		var buf bytes.Buffer
		if _, err := c.WriteTo(&buf); err != nil {
			return names, fmt.Errorf("plot %s: %w", name, err)
		}
		if err := writeAtomic(filepath.Join(dir, name), buf.Bytes()); err != nil {
			return names, err
		}
		names = append(names, name)
	}
	return names, nil
}

// writeAtomic writes through a temporary file (onnx.WriteFileAtomic: a
// failure or a signal leaves no partial image).
func writeAtomic(path string, data []byte) error {
	if err := onnx.WriteFileAtomic(path, data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
