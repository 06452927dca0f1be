package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Missing skips outside CI and fails in it: checked in a child process so
// that the failure is observed, not suffered.
func TestMissing(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Missing(t, "the thing (apt-get install thing)")
		return
	}
	for _, tc := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"", false, "--- SKIP"},
		{"false", false, "--- SKIP"},
		{"true", true, "--- FAIL"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestMissing$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tc.wantFail || !strings.Contains(string(out), tc.want) || !strings.Contains(string(out), "apt-get install thing") {
			t.Errorf("CI=%q: err %v, want fail %v and %q with the reason:\n%s", tc.ci, err, tc.wantFail, tc.want, out)
		}
	}
}
