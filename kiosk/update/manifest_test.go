package update

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestManifestRefuses(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	good := func() *Manifest {
		return &Manifest{Version: "1.0.0", Arch: "armv6", Files: []File{
			{Path: "bin/kioskd", SHA256: sum, Mode: "0755"},
			{Path: "bin/kioskctl", SHA256: sum, Mode: "0755"},
		}}
	}
	if err := good().Validate(); err != nil {
		t.Fatalf("good manifest: %v", err)
	}
	cases := map[string]func(m *Manifest){
		"bad version":      func(m *Manifest) { m.Version = "latest" },
		"unknown arch":     func(m *Manifest) { m.Arch = "mips" },
		"absolute path":    func(m *Manifest) { m.Files[0].Path = "/bin/kioskd" },
		"dot-dot":          func(m *Manifest) { m.Files = append(m.Files, File{Path: "../etc/passwd", SHA256: sum, Mode: "0644"}) },
		"listed twice":     func(m *Manifest) { m.Files = append(m.Files, m.Files[0]) },
		"manifest listed":  func(m *Manifest) { m.Files = append(m.Files, File{Path: ManifestName, SHA256: sum, Mode: "0644"}) },
		"short digest":     func(m *Manifest) { m.Files[0].SHA256 = "abcd" },
		"uppercase digest": func(m *Manifest) { m.Files[0].SHA256 = strings.ToUpper(sum) },
		"setuid":           func(m *Manifest) { m.Files[0].Mode = "4755" },
		"no kioskctl":      func(m *Manifest) { m.Files = m.Files[:1] },
		"file and dir":     func(m *Manifest) { m.Files = append(m.Files, File{Path: "bin", SHA256: sum, Mode: "0644"}) },
		"backslash":        func(m *Manifest) { m.Files = append(m.Files, File{Path: `bin\x`, SHA256: sum, Mode: "0644"}) },
	}
	for name, edit := range cases {
		m := good()
		edit(m)
		if err := m.Validate(); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: err = %v, want ErrManifest", name, err)
		}
	}
	if _, err := ParseManifest([]byte(`{"version":"1.0.0","arch":"armv6","files":[],"extra":1}`)); !errors.Is(err, ErrManifest) {
		t.Errorf("unknown field: err = %v", err)
	}
}

func TestReadReleaseRefusesOddTarballs(t *testing.T) {
	files := binaries("1.0.0")
	var good bytes.Buffer
	m, err := Pack(&good, "1.0.0", "amd64", files, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readRelease(bytes.NewReader(good.Bytes()), "", nil, nil); err != nil {
		t.Fatalf("good tarball: %v", err)
	}
	extra := append(files, PackFile{Path: "bin/extra", Mode: 0o755, Data: []byte("x")})
	cases := map[string][]byte{
		"not gzip":         []byte("hello"),
		"empty":            nil,
		"file not listed":  packWithManifest(t, m, extra),
		"file missing":     packWithManifest(t, m, files[:1]),
		"cut short":        good.Bytes()[:good.Len()-10],
		"trailing garbage": append(bytes.Clone(good.Bytes()), "garbage"...),
	}
	for name, data := range cases {
		if _, err := readRelease(bytes.NewReader(data), "", nil, nil); !errors.Is(err, ErrManifest) {
			t.Errorf("%s: err = %v, want ErrManifest", name, err)
		}
	}
}
