package update

import (
	"runtime"
	"slices"
	"testing"
)

func TestCompareVersions(t *testing.T) {
	// Each is older than the next (semver.org's own example, and more).
	order := []string{
		"0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0",
		"2.0.0", "18446744073709551615.0.0",
	}
	for i := range order {
		for j := range order {
			c, err := CompareVersions(order[i], order[j])
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if c != want {
				t.Errorf("compare(%s, %s) = %d, want %d", order[i], order[j], c, want)
			}
		}
	}
	if c, _ := CompareVersions("1.2.3+build.5", "1.2.3"); c != 0 {
		t.Errorf("build metadata takes part in ordering")
	}
}

func TestParseVersionRefuses(t *testing.T) {
	for _, s := range []string{
		"", "1", "1.2", "v1.2.3", "1.2.3.4", "01.2.3", "1.02.3", "1.2.3-", "1.2.3-01",
		"1.2.3-a..b", "1.2.3+", "1.2.3-a_b", "../1.2.3", "1.2.3/x", " 1.2.3", "1.2.3\n",
		"99999999999999999999.0.0",
	} {
		if _, err := ParseVersion(s); err == nil {
			t.Errorf("ParseVersion(%q) accepted", s)
		}
	}
	for _, s := range []string{"0.0.0", "1.2.3", "1.2.3-rc.1", "1.2.3-0a", "1.2.3+20260105.abc", "1.2.3-x-y.7+b"} {
		v, err := ParseVersion(s)
		if err != nil {
			t.Errorf("ParseVersion(%q): %v", s, err)
		} else if v.String() != s {
			t.Errorf("ParseVersion(%q).String() = %q", s, v)
		}
	}
}

func TestLocalArch(t *testing.T) {
	got := LocalArch()
	switch runtime.GOARCH {
	case "amd64", "arm64":
		if got != runtime.GOARCH {
			t.Errorf("LocalArch() = %s on %s", got, runtime.GOARCH)
		}
	case "arm":
		if !slices.Contains([]string{"armv6", "armv7"}, got) {
			t.Errorf("LocalArch() = %s on arm", got)
		}
	}
}
