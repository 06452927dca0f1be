package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSummarise(t *testing.T) {
	const pkg = "github.com/onnx-recompute/recompute/x"
	cases := []struct {
		name   string
		events string
		code   int
		want   []string
	}{
		{"pass and skip", `{"Action":"run","Package":"` + pkg + `","Test":"TestA"}
{"Action":"output","Package":"` + pkg + `","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"` + pkg + `","Test":"TestA","Output":"    a_test.go:3: corpus absent (it lives beside the repository)\n"}
{"Action":"output","Package":"` + pkg + `","Test":"TestA","Output":"--- SKIP: TestA (0.00s)\n"}
{"Action":"skip","Package":"` + pkg + `","Test":"TestA"}
{"Action":"output","Package":"` + pkg + `","Output":"ok  \t` + pkg + `\t0.1s\n"}
{"Action":"pass","Package":"` + pkg + `"}
`, 0, []string{"ok  \t" + pkg, "1 skipped tests", "x TestA: a_test.go:3: corpus absent (it lives beside the repository)"}},
		{"fail", `{"Action":"output","Package":"` + pkg + `","Test":"TestB","Output":"    b_test.go:9: got 2, want 1\n"}
{"Action":"fail","Package":"` + pkg + `","Test":"TestB"}
{"Action":"output","Package":"` + pkg + `","Output":"FAIL\t` + pkg + `\t0.1s\n"}
{"Action":"fail","Package":"` + pkg + `"}
`, 1, []string{"--- FAIL: " + pkg + " TestB", "got 2, want 1", "0 skipped tests", "1 failed tests"}},
		{"timeout", `{"Action":"run","Package":"` + pkg + `","Test":"TestSlow"}
{"Action":"output","Package":"` + pkg + `","Test":"TestSlow","Output":"=== RUN   TestSlow\n"}
{"Action":"run","Package":"` + pkg + `","Test":"TestSlow/sub"}
{"Action":"output","Package":"` + pkg + `","Test":"TestSlow/sub","Output":"    slow_test.go:5: still planning\n"}
{"Action":"output","Package":"` + pkg + `","Output":"panic: test timed out after 15m0s\n"}
{"Action":"output","Package":"` + pkg + `","Output":"FAIL\t` + pkg + `\t900.1s\n"}
{"Action":"fail","Package":"` + pkg + `"}
`, 1, []string{"panic: test timed out after 15m0s", "--- UNFINISHED: " + pkg + " TestSlow\n", "--- UNFINISHED: " + pkg + " TestSlow/sub", "still planning", "2 failed tests"}},
		{"build failure", `# ` + pkg + "\n" + `x.go:1: syntax error` + "\n" + `{"Action":"fail","Package":"` + pkg + `"}
`, 1, []string{"syntax error", "0 failed tests"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var w bytes.Buffer
			if code := summarise(strings.NewReader(tc.events), &w); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			for _, s := range tc.want {
				if !strings.Contains(w.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, w.String())
				}
			}
		})
	}
}
