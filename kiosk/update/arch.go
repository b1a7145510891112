package update

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// Architectures a release is built for; the names appear in tarball names
// (tolem-1.4.2-linux-armv7.tar.gz) and in the manifest.
var Architectures = []string{"armv6", "armv7", "arm64", "amd64"}

// LocalArch names the architecture of the running binary: what the
// installed release was built for, which is what the next one must match.
// A 32-bit ARM build says which ARM version it needs, because an armv7
// binary dies with SIGILL on the ARMv6 of a Pi Zero.
func LocalArch() string {
	if runtime.GOARCH != "arm" {
		return runtime.GOARCH
	}
	return "armv" + goarm()
}

// goarm is the GOARM the binary was built with, from its build settings
// (e.g. "6" or "7,softfloat").
func goarm() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOARM" && s.Value != "" {
				v, _, _ := strings.Cut(s.Value, ",")
				return v
			}
		}
	}
	// The toolchain's default when the build did not record one.
	return "7"
}
