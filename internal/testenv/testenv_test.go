package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Missing skips and Partial logs and goes on outside CI; both fail in it.
// Checked in a child process so that the failure is observed, not suffered.
func TestMissingPartial(t *testing.T) {
	switch os.Getenv("TESTENV_CHILD") {
	case "missing":
		Missing(t, "the thing (apt-get install thing)")
		return
	case "partial":
		Partial(t, "the thing (apt-get install thing)")
		t.Log("went on")
		return
	}
	for _, tc := range []struct {
		child, ci string
		wantFail  bool
		want      string
	}{
		{"missing", "", false, "--- SKIP"},
		{"missing", "false", false, "--- SKIP"},
		{"missing", "true", true, "--- FAIL"},
		{"partial", "", false, "went on"},
		{"partial", "true", true, "--- FAIL"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestMissingPartial$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD="+tc.child, "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.wantFail || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "apt-get install thing") {
			t.Errorf("%s, CI=%q: err %v, want fail %v and %q with the reason:\n%s", tc.child, tc.ci, err, tc.wantFail, tc.want, out)
		}
	}
}
