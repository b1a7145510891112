package update

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Names under the root.
const (
	releasesDir  = "releases"
	currentLink  = "current"
	previousLink = "previous"
)

// relTarget is what current and previous hold: relative, so that the root
// may be mounted or copied elsewhere.
func relTarget(version string) string { return filepath.Join(releasesDir, version) }

func releasePath(root, version string) string { return filepath.Join(root, releasesDir, version) }

// releaseComplete reports whether releases/<version> is there. A release
// directory appears only by the rename of a complete, synced one, so being
// there means complete.
func releaseComplete(root, version string) bool {
	_, err := os.Stat(filepath.Join(releasePath(root, version), ManifestName))
	return err == nil
}

// linkedVersion is the version the link name (current or previous) points
// at; "" when the link does not exist.
func linkedVersion(root, name string) (string, error) {
	target, err := os.Readlink(filepath.Join(root, name))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read %s: %w", filepath.Join(root, name), err)
	}
	dir, v := filepath.Split(filepath.Clean(target))
	if filepath.IsAbs(dir) {
		dir, _ = filepath.Rel(root, dir)
	}
	if filepath.Clean(dir) != releasesDir {
		return "", fmt.Errorf("%s points at %s, not at a release in %s", filepath.Join(root, name), target, filepath.Join(root, releasesDir))
	}
	if _, err := ParseVersion(v); err != nil {
		return "", fmt.Errorf("%s points at %s: %w", filepath.Join(root, name), target, err)
	}
	if !releaseComplete(root, v) {
		return v, fmt.Errorf("%s points at %s, which is missing or has no %s", filepath.Join(root, name), target, ManifestName)
	}
	return v, nil
}

// listReleases returns the versions under releases/, newest first; other
// names (temporary directories among them) are left out.
func listReleases(root string) ([]Version, error) {
	entries, err := os.ReadDir(filepath.Join(root, releasesDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var vs []Version
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if v, err := ParseVersion(e.Name()); err == nil && v.String() == e.Name() {
			vs = append(vs, v)
		}
	}
	slices.SortFunc(vs, func(a, b Version) int { return b.Compare(a) })
	return vs, nil
}

// isStale recognises the temporary names an interrupted update leaves.
func isStale(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tmpMark)
}

// Status is what `kioskctl update status` shows.
type Status struct {
	Root     string `json:"root"`
	Arch     string `json:"arch"`
	Current  string `json:"current"`
	Previous string `json:"previous,omitempty"`
	// Releases on disk, newest first.
	Releases []string `json:"releases"`
	// LastUpdate is the journal; nil before the first update.
	LastUpdate *Journal `json:"last_update,omitempty"`
	// Problem says what is wrong with current or previous, if anything.
	Problem string `json:"problem,omitempty"`
}

// ReadStatus reads the releases, the links and the journal under root.
func ReadStatus(root string) (*Status, error) {
	st := &Status{Root: root, Arch: LocalArch(), Releases: []string{}}
	var problems []string
	var err error
	if st.Current, err = linkedVersion(root, currentLink); err != nil {
		problems = append(problems, err.Error())
	}
	if st.Previous, err = linkedVersion(root, previousLink); err != nil {
		problems = append(problems, err.Error())
	}
	st.Problem = strings.Join(problems, "; ")
	vs, err := listReleases(root)
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	for _, v := range vs {
		st.Releases = append(st.Releases, v.String())
	}
	if st.LastUpdate, err = ReadJournal(root); err != nil {
		return nil, err
	}
	return st, nil
}
