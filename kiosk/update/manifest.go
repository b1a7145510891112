package update

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// ManifestName is the manifest's name in a tarball and in a release directory.
const ManifestName = "manifest.json"

// The files without which a release cannot run or update itself again.
var requiredFiles = []string{"bin/kioskd", "bin/kioskctl"}

// Bounds on what a tarball may hold; a release is two binaries.
const (
	maxManifestSize = 1 << 20
	maxFiles        = 256
	maxFileSize     = 512 << 20
	maxTotalSize    = 1 << 30
)

// Manifest describes a release: its version, its architecture and the
// SHA-256 and mode of every file.
type Manifest struct {
	Version string `json:"version"`
	Arch    string `json:"arch"`
	Files   []File `json:"files"`
}

// File is one file of a release.
type File struct {
	// Path is relative to the release directory, slash-separated.
	Path string `json:"path"`
	// SHA256 is the lowercase hex digest of the content.
	SHA256 string `json:"sha256"`
	// Mode is the octal permission, e.g. "0755".
	Mode string `json:"mode"`
}

// Perm is the file's permission bits.
func (f File) Perm() (fs.FileMode, error) {
	n, err := strconv.ParseUint(f.Mode, 8, 32)
	if err != nil || n&^0o777 != 0 {
		return 0, fmt.Errorf("%s: mode %q is not an octal permission such as 0755", f.Path, f.Mode)
	}
	return fs.FileMode(n), nil
}

// ParseManifest decodes and checks a manifest. Unknown fields are refused:
// a field this version does not know could carry a meaning it would ignore.
func ParseManifest(data []byte) (*Manifest, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrManifest, ManifestName, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: %s: data after the JSON object", ErrManifest, ManifestName)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks the version, the architecture and every file entry.
func (m *Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrManifest, ManifestName, fmt.Sprintf(format, args...))
	}
	if _, err := ParseVersion(m.Version); err != nil {
		return bad("%v", err)
	}
	if !slices.Contains(Architectures, m.Arch) {
		return bad("arch %q is none of %s", m.Arch, strings.Join(Architectures, ", "))
	}
	if len(m.Files) == 0 || len(m.Files) > maxFiles {
		return bad("%d files; want 1 to %d", len(m.Files), maxFiles)
	}
	seen := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if !validPath(f.Path) || f.Path == ManifestName {
			return bad("file path %q is not a clean relative path", f.Path)
		}
		if seen[f.Path] {
			return bad("file %s listed twice", f.Path)
		}
		seen[f.Path] = true
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != 32 || f.SHA256 != strings.ToLower(f.SHA256) {
			return bad("%s: sha256 %q is not 64 lowercase hex digits", f.Path, f.SHA256)
		}
		if _, err := f.Perm(); err != nil {
			return bad("%v", err)
		}
	}
	// A file may not also be the directory of another (bin and bin/kioskd).
	for p := range seen {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			if seen[d] {
				return bad("%s is both a file and the directory of %s", d, p)
			}
		}
	}
	for _, r := range requiredFiles {
		if !seen[r] {
			return bad("%s is missing; a release must carry %s", r, strings.Join(requiredFiles, " and "))
		}
	}
	return nil
}

// file returns the entry for p.
func (m *Manifest) file(p string) (File, bool) {
	for _, f := range m.Files {
		if f.Path == p {
			return f, true
		}
	}
	return File{}, false
}

// validPath accepts a clean, relative, slash-separated path of printable
// characters, such as bin/kioskd.
func validPath(p string) bool {
	if !fs.ValidPath(p) || p == "." || len(p) > 255 {
		return false
	}
	for _, c := range p {
		if c < 0x21 || c == 0x7f || c == '\\' {
			return false
		}
	}
	return true
}
