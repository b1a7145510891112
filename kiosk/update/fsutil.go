package update

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// writeSynced creates path (which must not exist) with data, synced to disk.
func writeSynced(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeAtomic replaces path with data: a synced temporary file renamed over
// it, then the directory synced, so that after a power cut path holds the
// old content or the new, whole.
func writeAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := tempName(path)
	if err := writeSynced(tmp, data, perm); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// replaceSymlink points link at target atomically: a new symlink renamed
// over the old one. rename(2) replaces the name in one step, so a reader,
// or a boot after a power cut, sees the old target or the new one, never
// neither. beforeRename runs between the two steps.
func replaceSymlink(link, target string, beforeRename func()) error {
	tmp := tempName(link)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", link, err)
	}
	if beforeRename != nil {
		beforeRename()
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link %s: %w", link, err)
	}
	if err := syncDir(filepath.Dir(link)); err != nil {
		return fmt.Errorf("link %s: %w", link, err)
	}
	return nil
}

// mkdirAllDurable is os.MkdirAll whose new directories survive a power cut:
// the parent of each directory it creates is synced, or the new name may
// never reach the disk (and a release installed below it with it).
func mkdirAllDurable(dir string, perm os.FileMode) error {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := syncDir(filepath.Dir(missing[i])); err != nil {
			return err
		}
	}
	return nil
}

// syncDir makes the names created or renamed in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	d.Close()
	// Some file systems cannot sync a directory; their renames are as
	// durable as they get.
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}

// tempName is a fresh name beside path, hidden and marked so that a stale
// one left by a power cut is recognised and removed.
func tempName(path string) string {
	var b [6]byte
	rand.Read(b[:])
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+tmpMark+hex.EncodeToString(b[:]))
}

const tmpMark = ".tmp-"
