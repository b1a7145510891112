package update

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// readRelease reads a release tarball. manifest.json must be its first
// entry, so that onManifest (when not nil) can refuse the release before a
// single file is read. Every listed file is hashed as it streams by and,
// when dir is not empty, written below dir with its manifest mode and
// synced. afterFile, when not nil, runs after each written file.
//
// A damaged, truncated or inconsistent tarball is an error wrapping
// ErrManifest; the caller removes dir on any error.
func readRelease(r io.Reader, dir string, onManifest func(*Manifest) error, afterFile func()) (*Manifest, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrManifest, fmt.Sprintf(format, args...))
	}
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, bad("not a gzip file: %v", err)
	}
	tr := tar.NewReader(gz)
	var (
		m     *Manifest
		seen  = map[string]bool{}
		total int64
	)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, bad("reading the tarball (truncated or damaged?): %v", err)
		}
		name := strings.TrimPrefix(hdr.Name, "./")
		name = strings.TrimSuffix(name, "/")
		if m == nil {
			if name != ManifestName || hdr.Typeflag != tar.TypeReg {
				return nil, bad("first entry is %q; a release starts with %s", hdr.Name, ManifestName)
			}
			if hdr.Size > maxManifestSize {
				return nil, bad("%s is %d bytes", ManifestName, hdr.Size)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				return nil, bad("reading %s (truncated?): %v", ManifestName, err)
			}
			if m, err = ParseManifest(data); err != nil {
				return nil, err
			}
			if onManifest != nil {
				if err := onManifest(m); err != nil {
					return nil, err
				}
			}
			if dir != "" {
				if err := writeSynced(filepath.Join(dir, ManifestName), data, 0o644); err != nil {
					return nil, err
				}
			}
			continue
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			if !validPath(name) {
				return nil, bad("entry %q is not a clean relative path", hdr.Name)
			}
			continue
		case tar.TypeReg:
		default:
			return nil, bad("entry %q is a link or a device; a release holds only files and directories", hdr.Name)
		}
		f, ok := m.file(name)
		if !ok {
			return nil, bad("%s is not in the manifest", hdr.Name)
		}
		if seen[name] {
			return nil, bad("%s appears twice", name)
		}
		seen[name] = true
		total += hdr.Size
		if hdr.Size > maxFileSize || total > maxTotalSize {
			return nil, bad("%s: the release is larger than any tolem release can be", name)
		}
		perm, _ := f.Perm() // checked by Validate
		if err := copyFile(tr, f, perm, dir); err != nil {
			return nil, err
		}
		if dir != "" && afterFile != nil {
			afterFile()
		}
	}
	if m == nil {
		return nil, bad("the tarball is empty")
	}
	for _, f := range m.Files {
		if !seen[f.Path] {
			return nil, bad("%s is in the manifest but not in the tarball (truncated?)", f.Path)
		}
	}
	// Read to the gzip trailer: its CRC and length catch a file cut after
	// the tar end marker.
	if _, err := io.Copy(io.Discard, gz); err != nil {
		return nil, bad("reading the tarball's end (truncated?): %v", err)
	}
	return m, nil
}

// copyFile checks content against f's digest and, with dir set, writes it
// there.
func copyFile(content io.Reader, f File, perm fs.FileMode, dir string) error {
	h := sha256.New()
	if dir == "" {
		if _, err := io.Copy(h, content); err != nil {
			return fmt.Errorf("%w: reading %s (truncated?): %v", ErrManifest, f.Path, err)
		}
		return checkSum(f, h)
	}
	dst := filepath.Join(dir, filepath.FromSlash(f.Path))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("unpack %s: %w", f.Path, err)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("unpack %s: %w", f.Path, err)
	}
	src := &sourceReader{r: content}
	_, err = io.Copy(io.MultiWriter(out, h), src)
	if err != nil {
		out.Close()
		if src.err != nil {
			return fmt.Errorf("%w: reading %s (truncated?): %v", ErrManifest, f.Path, err)
		}
		return fmt.Errorf("unpack %s: %w", f.Path, err)
	}
	if err := checkSum(f, h); err != nil {
		out.Close()
		return err
	}
	// Chmod after writing: the umask must not decide a binary's mode.
	if err := out.Chmod(perm); err != nil {
		out.Close()
		return fmt.Errorf("unpack %s: %w", f.Path, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("unpack %s: sync: %w", f.Path, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("unpack %s: %w", f.Path, err)
	}
	return nil
}

// sourceReader remembers a read error, so that a damaged tarball is told
// apart from a full disk.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

func checkSum(f File, h hash.Hash) error {
	if got := hex.EncodeToString(h.Sum(nil)); got != f.SHA256 {
		return fmt.Errorf("%w: %s has sha256 %s, the manifest says %s", ErrManifest, f.Path, got, f.SHA256)
	}
	return nil
}

// VerifyTree checks an unpacked release directory against its own
// manifest: every listed file present with its digest and mode.
func VerifyTree(dir string) (*Manifest, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrManifest, err)
	}
	m, err := ParseManifest(data)
	if err != nil {
		return nil, err
	}
	for _, f := range m.Files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		in, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrManifest, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, in)
		st, serr := in.Stat()
		in.Close()
		if err != nil || serr != nil {
			return nil, fmt.Errorf("%w: reading %s: %v", ErrManifest, p, errors.Join(err, serr))
		}
		if err := checkSum(f, h); err != nil {
			return nil, err
		}
		if perm, _ := f.Perm(); st.Mode().Perm() != perm {
			return nil, fmt.Errorf("%w: %s has mode %04o, the manifest says %s", ErrManifest, p, st.Mode().Perm(), f.Mode)
		}
	}
	return m, nil
}

// PackFile is one file to put into a release.
type PackFile struct {
	Path string
	Mode fs.FileMode
	Data []byte
}

// Pack writes a release tarball of files to w: manifest.json first, then
// the files in the order given, all owned by root and stamped mtime, so the
// same inputs give the same bytes.
func Pack(w io.Writer, version, arch string, files []PackFile, mtime time.Time) (*Manifest, error) {
	m := &Manifest{Version: version, Arch: arch}
	for _, f := range files {
		sum := sha256.Sum256(f.Data)
		m.Files = append(m.Files, File{Path: f.Path, SHA256: hex.EncodeToString(sum[:]), Mode: fmt.Sprintf("%04o", f.Mode.Perm())})
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if err := writeTarball(w, m, files, mtime); err != nil {
		return nil, err
	}
	return m, nil
}

// writeTarball writes m and files as a release tarball, as they are.
func writeTarball(w io.Writer, m *Manifest, files []PackFile, mtime time.Time) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	gz, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	gz.ModTime = mtime
	tw := tar.NewWriter(gz)
	hdr := func(name string, typ byte, mode int64, size int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: size, ModTime: mtime,
			Uname: "root", Gname: "root", Format: tar.FormatUSTAR}
	}
	if err := tw.WriteHeader(hdr(ManifestName, tar.TypeReg, 0o644, int64(len(data)))); err != nil {
		return err
	}
	if _, err := tw.Write(data); err != nil {
		return err
	}
	dirs := map[string]bool{}
	for _, f := range files {
		var parents []string
		for d := path.Dir(f.Path); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			parents = append(parents, d)
		}
		slices.Reverse(parents)
		for _, d := range parents {
			if err := tw.WriteHeader(hdr(d+"/", tar.TypeDir, 0o755, 0)); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(hdr(f.Path, tar.TypeReg, int64(f.Mode.Perm()), int64(len(f.Data)))); err != nil {
			return err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

// Extract unpacks a release tarball into dir (which must exist and be
// empty), checking every file against the manifest; the packaging uses it
// to lay out a .deb from the very tarball that was signed. It does not
// check a signature: Verify that first when the tarball came from afar.
func Extract(r io.Reader, dir string) (*Manifest, error) {
	return readRelease(r, dir, nil, nil)
}
