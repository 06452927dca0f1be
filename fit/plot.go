package fit

import (
	"bytes"
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/onnx-recompute/recompute/planner"
)

const gib = 1 << 30

// Plot draws the total peak against the batch for none, chen and the
// strategy's least-memory plan, with the memory limit as a line.
func Plot(title string, r *Result) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title + ": peak memory vs batch (limit " + planner.HumanBytes(r.MemoryBytes) + ")"
	p.X.Label.Text = "batch"
	p.Y.Label.Text = "resident + transient peak (GiB)"
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	series := []struct {
		label string
		get   func(CurvePoint) int64
		col   color.Color
		shape draw.GlyphDrawer
	}{
		{"none", func(c CurvePoint) int64 { return c.None }, color.Black, draw.BoxGlyph{}},
		{"chen", func(c CurvePoint) int64 { return c.Chen }, color.RGBA{R: 0x70, G: 0x70, B: 0x70, A: 0xff}, draw.PyramidGlyph{}},
		{r.Strategy + " (least memory)", func(c CurvePoint) int64 { return c.Recompute }, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, draw.CircleGlyph{}},
	}
	var xmax, ymax float64
	for _, s := range series {
		var xy plotter.XYs
		for _, c := range r.Curve {
			if v := s.get(c); v > 0 {
				xy = append(xy, plotter.XY{X: float64(c.Batch), Y: float64(v) / gib})
				xmax, ymax = max(xmax, float64(c.Batch)), max(ymax, float64(v)/gib)
			}
		}
		if len(xy) == 0 {
			continue
		}
		line, sc, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil, err
		}
		line.Color, line.Width = s.col, vg.Points(1.5)
		sc.Color, sc.Shape, sc.Radius = s.col, s.shape, vg.Points(3)
		p.Add(line, sc)
		p.Legend.Add(s.label, line, sc)
	}
	limit := float64(r.MemoryBytes) / gib
	ml, err := plotter.NewLine(plotter.XYs{{X: 0, Y: limit}, {X: xmax, Y: limit}})
	if err != nil {
		return nil, err
	}
	ml.Color, ml.Dashes, ml.Width = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, []vg.Length{vg.Points(6), vg.Points(3)}, vg.Points(1.5)
	p.Add(ml)
	p.Legend.Add("memory "+planner.HumanBytes(r.MemoryBytes), ml)
	p.X.Min, p.Y.Min = 0, 0
	p.X.Max = xmax * 1.02
	p.Y.Max = max(ymax, limit) * 1.3
	return p, nil
}

// Render encodes a plot as SVG or PNG ("svg", "png").
func Render(p *plot.Plot, format string) ([]byte, error) {
	w, h := 8*vg.Inch, 4.5*vg.Inch
	var c interface {
		vg.CanvasSizer
		io.WriterTo
	}
	switch format {
	case "svg":
		c = vgsvg.New(w, h)
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.New(w, h)}
	default:
		return nil, fmt.Errorf("fit: unknown image format %q", format)
	}
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
