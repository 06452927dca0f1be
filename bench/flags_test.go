package bench

import (
	"reflect"
	"testing"
)

func TestParseBudgets(t *testing.T) {
	tests := []struct {
		in   string
		want []float64
		bad  bool
	}{
		{in: "0.3,0.5,1", want: []float64{0.3, 0.5, 1}},
		{in: "30%,50%", want: []float64{0.3, 0.5}},
		{in: "0.3:0.5:0.1", want: []float64{0.3, 0.4, 0.5}},
		{in: "0.5:1:0.25", want: []float64{0.5, 0.75, 1}},
		{in: "0", bad: true},
		{in: "1.5", bad: true},
		{in: "x", bad: true},
		{in: "1:0.5:0.1", bad: true},
		{in: ",", bad: true},
	}
	for _, tc := range tests {
		got, err := ParseBudgets(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseBudgets(%q) = %v, want error", tc.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseBudgets(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseMeasureNets(t *testing.T) {
	got, err := ParseMeasureNets("resnet50:8x112, gpt2:1x256,llama:2x64")
	want := []MeasureNet{{Name: "resnet50", Batch: 8, Size: 112}, {Name: "gpt2", Batch: 1, Seq: 256}, {Name: "llama", Batch: 2, Seq: 64}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseMeasureNets = %+v, %v; want %+v", got, err, want)
	}
	if s := FormatMeasureNets(want); s != "resnet50:8x112,gpt2:1x256,llama:2x64" {
		t.Errorf("FormatMeasureNets = %q", s)
	}
	for _, bad := range []string{"", "resnet50", "resnet50:0x64", "resnet50:2xa", "x:1x1"} {
		if _, err := ParseMeasureNets(bad); err == nil {
			t.Errorf("ParseMeasureNets(%q) accepted", bad)
		}
	}
}

func TestParseLists(t *testing.T) {
	if m, err := ParseModels("all"); err != nil || len(m) == 0 {
		t.Errorf("ParseModels(all) = %v, %v", m, err)
	}
	if m, err := ParseModels("none"); err != nil || m == nil || len(m) != 0 {
		t.Errorf("ParseModels(none) = %#v, %v; want an empty, non-nil list", m, err)
	}
	if m, err := ParseModels("resnet50, gpt2"); err != nil || !reflect.DeepEqual(m, []string{"resnet50", "gpt2"}) {
		t.Errorf("ParseModels = %v, %v", m, err)
	}
	if _, err := ParseModels("resnet50,nosuchnet"); err == nil {
		t.Error("ParseModels accepted an unknown network")
	}
	if s, err := ParseStrategies("none, approx"); err != nil || !reflect.DeepEqual(s, []string{"none", "approx"}) {
		t.Errorf("ParseStrategies = %v, %v", s, err)
	}
	if _, err := ParseStrategies("magic"); err == nil {
		t.Error("ParseStrategies accepted magic")
	}
	for _, b := range [][]float64{DefaultBudgets(), QuickBudgets()} {
		if got, err := ParseBudgets(FormatBudgets(b)); err != nil || !reflect.DeepEqual(got, b) {
			t.Errorf("ParseBudgets(FormatBudgets(%v)) = %v, %v", b, got, err)
		}
	}
}
