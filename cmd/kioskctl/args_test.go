package main

import (
	"slices"
	"strings"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		rest []string
		g    globals
		err  string
	}{
		{[]string{"--json", "status"}, []string{"status"}, globals{json: true}, ""},
		{[]string{"status", "--socket=/s", "--json"}, []string{"status"}, globals{socket: "/s", json: true}, ""},
		{[]string{"-socket", "/s", "queue"}, []string{"queue"}, globals{socket: "/s"}, ""},
		{[]string{"collect", "--seal", "B 1", "--yes"}, []string{"collect", "--seal", "B 1", "--yes"}, globals{}, ""},
		{[]string{"update", "apply", "--socket", "/u", "f.tar.gz"}, []string{"update", "apply", "--socket", "/u", "f.tar.gz"}, globals{}, ""},
		{[]string{"log", "--", "--json"}, []string{"log", "--json"}, globals{}, ""},
		{[]string{"--socket"}, nil, globals{}, "--socket needs the path of kioskd's control socket"},
		{[]string{"--jsn", "status"}, nil, globals{}, "unknown option --jsn"},
	} {
		var g globals
		rest, err := splitArgs(tc.args, &g)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: error %v, want %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(rest, tc.rest) || g != tc.g {
			t.Errorf("%q: %q %+v %v, want %q %+v", tc.args, rest, g, err, tc.rest, tc.g)
		}
	}
}

// Whatever is typed, splitting never panics, and what it keeps for the
// command is a subsequence of what was typed.
func FuzzSplitArgs(f *testing.F) {
	f.Add("--json status")
	f.Add("collect --seal B-1 --yes --socket=/s")
	f.Add("update apply -- --json")
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Fields(line)
		var g globals
		rest, err := splitArgs(args, &g)
		if err != nil {
			return
		}
		i := 0
		for _, a := range rest {
			for i < len(args) && args[i] != a {
				i++
			}
			if i == len(args) {
				t.Fatalf("%q: kept %q, which was not typed in that order", args, rest)
			}
			i++
		}
	})
}
