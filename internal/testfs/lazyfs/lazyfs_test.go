package lazyfs_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"

	"tolem/internal/testfs/lazyfs"
)

// helpers: each fails the test on an error, so that the tests read as the
// sequence of system calls they make.

func create(t *testing.T, path string, data string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	return f
}

func fsync(t *testing.T, f *os.File) {
	t.Helper()
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync %s: %v", f.Name(), err)
	}
}

func fsyncDir(t *testing.T, dir string) {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatalf("fsync %s: %v", dir, err)
	}
}

// writeDurable creates path with data the way careful code does: write,
// fsync the file, fsync its directory.
func writeDurable(t *testing.T, path, data string) {
	t.Helper()
	f := create(t, path, data)
	fsync(t, f)
	f.Close()
	fsyncDir(t, filepath.Dir(path))
}

// content is the file's data, or "<missing>".
func content(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "<missing>"
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func expect(t *testing.T, path, want string) {
	t.Helper()
	if got := content(t, path); got != want {
		t.Errorf("%s holds %q, want %q", path, got, want)
	}
}

func TestFsyncedFileSurvivesACutAndUnsyncedWritesDoNot(t *testing.T) {
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, nil)
	p := filepath.Join(lfs.Dir(), "bills")
	f := create(t, p, "500 ")
	fsync(t, f)
	fsyncDir(t, lfs.Dir())
	if _, err := f.WriteString("1000 "); err != nil {
		t.Fatal(err)
	}
	expect(t, p, "500 1000 ") // the live view has everything
	lfs.Cut()
	expect(t, filepath.Join(back, "bills"), "500 ")

	// The boot: the same backing mounted again shows what survived.
	again := lazyfs.Mount(t, back, nil)
	expect(t, filepath.Join(again.Dir(), "bills"), "500 ")
}

func TestNewFileWithoutFsyncIsLost(t *testing.T) {
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, nil)
	create(t, filepath.Join(lfs.Dir(), "a"), "never synced").Close()
	lfs.Cut()
	expect(t, filepath.Join(back, "a"), "<missing>")
}

func TestFsyncedFileWithoutItsDirectoryIsLost(t *testing.T) {
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, nil)
	f := create(t, filepath.Join(lfs.Dir(), "a"), "data synced, name not")
	fsync(t, f)
	lfs.Cut()
	expect(t, filepath.Join(back, "a"), "<missing>")
}

func TestDataSyncedBeforeTheNameLandsWithIt(t *testing.T) {
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, nil)
	f := create(t, filepath.Join(lfs.Dir(), "a"), "first")
	fsync(t, f)
	if _, err := f.WriteString(" second"); err != nil { // not synced
		t.Fatal(err)
	}
	fsyncDir(t, lfs.Dir())
	lfs.Cut()
	expect(t, filepath.Join(back, "a"), "first")
}

func TestNameSyncedWithoutDataLeavesAnEmptyFile(t *testing.T) {
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, nil)
	create(t, filepath.Join(lfs.Dir(), "a"), "data never synced").Close()
	fsyncDir(t, lfs.Dir())
	lfs.Cut()
	expect(t, filepath.Join(back, "a"), "")
}

func TestRenameIsDurableOnlyWithItsDirectory(t *testing.T) {
	for _, syncDir := range []bool{false, true} {
		back := t.TempDir()
		lfs := lazyfs.Mount(t, back, nil)
		target := filepath.Join(lfs.Dir(), "state.json")
		writeDurable(t, target, "old")
		tmp := filepath.Join(lfs.Dir(), ".state.json.tmp")
		f := create(t, tmp, "new")
		fsync(t, f)
		f.Close()
		if err := os.Rename(tmp, target); err != nil {
			t.Fatal(err)
		}
		expect(t, target, "new")
		if syncDir {
			fsyncDir(t, lfs.Dir())
		}
		lfs.Cut()
		want := "old"
		if syncDir {
			want = "new"
		}
		expect(t, filepath.Join(back, "state.json"), want)
		if syncDir {
			expect(t, filepath.Join(back, ".state.json.tmp"), "<missing>")
		}
	}
}

func TestUnlinkIsDurableOnlyWithItsDirectory(t *testing.T) {
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, nil)
	writeDurable(t, filepath.Join(lfs.Dir(), "a"), "A")
	writeDurable(t, filepath.Join(lfs.Dir(), "b"), "B")
	for _, n := range []string{"a", "b"} {
		if err := os.Remove(filepath.Join(lfs.Dir(), n)); err != nil {
			t.Fatal(err)
		}
	}
	sub := filepath.Join(lfs.Dir(), "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	fsyncDir(t, lfs.Dir()) // a, b gone and sub there, durably
	writeDurable(t, filepath.Join(sub, "c"), "C")
	if err := os.Remove(filepath.Join(sub, "c")); err != nil {
		t.Fatal(err)
	}
	lfs.Cut()
	expect(t, filepath.Join(back, "a"), "<missing>")
	expect(t, filepath.Join(back, "b"), "<missing>")
	expect(t, filepath.Join(back, "sub", "c"), "C")
}

func TestDirectoryTreeIsDurableFromTheTopDown(t *testing.T) {
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, nil)
	a := filepath.Join(lfs.Dir(), "a")
	b := filepath.Join(a, "b")
	if err := os.MkdirAll(b, 0o750); err != nil {
		t.Fatal(err)
	}
	writeDurable(t, filepath.Join(b, "f"), "deep")
	fsyncDir(t, a)
	if err := os.Symlink("a/b/f", filepath.Join(lfs.Dir(), "link")); err != nil {
		t.Fatal(err)
	}
	// Everything below is durable, but the root never learnt of a.
	lfs.Cut()
	if _, err := os.Lstat(filepath.Join(back, "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a survived a cut before its parent was synced: %v", err)
	}

	lfs = lazyfs.Mount(t, back, nil)
	a, b = filepath.Join(lfs.Dir(), "a"), filepath.Join(lfs.Dir(), "a", "b")
	if err := os.MkdirAll(b, 0o750); err != nil {
		t.Fatal(err)
	}
	writeDurable(t, filepath.Join(b, "f"), "deep")
	fsyncDir(t, a)
	if err := os.Symlink("a/b/f", filepath.Join(lfs.Dir(), "link")); err != nil {
		t.Fatal(err)
	}
	fsyncDir(t, lfs.Dir())
	lfs.Cut()
	expect(t, filepath.Join(back, "a", "b", "f"), "deep")
	expect(t, filepath.Join(back, "link"), "deep")
	if st, err := os.Stat(filepath.Join(back, "a", "b")); err != nil || st.Mode().Perm() != 0o750 {
		t.Errorf("a/b after the cut: %v, %v; want a directory with mode 0750", st, err)
	}
}

func TestTruncateIsDurableOnlyWhenSynced(t *testing.T) {
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, nil)
	p := filepath.Join(lfs.Dir(), "log")
	writeDurable(t, p, "0123456789")
	if err := os.Truncate(p, 4); err != nil {
		t.Fatal(err)
	}
	expect(t, p, "0123")
	q := filepath.Join(lfs.Dir(), "log2")
	writeDurable(t, q, "0123456789")
	f, err := os.OpenFile(q, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(2); err != nil {
		t.Fatal(err)
	}
	fsync(t, f)
	lfs.Cut()
	expect(t, filepath.Join(back, "log"), "0123456789")
	expect(t, filepath.Join(back, "log2"), "01")
}

func TestModeIsDurableWithTheFile(t *testing.T) {
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, nil)
	p := filepath.Join(lfs.Dir(), "kioskd")
	writeDurable(t, p, "#!")
	if err := os.Chmod(p, 0o755); err != nil {
		t.Fatal(err)
	}
	lfs.Cut()
	if st, _ := os.Stat(filepath.Join(back, "kioskd")); st.Mode().Perm() != 0o644 {
		t.Errorf("an unsynced chmod landed: mode %v", st.Mode())
	}
}

func TestUnmountWritesEverything(t *testing.T) {
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, nil)
	if err := os.MkdirAll(filepath.Join(lfs.Dir(), "x", "y"), 0o755); err != nil {
		t.Fatal(err)
	}
	create(t, filepath.Join(lfs.Dir(), "x", "y", "z"), "zed").Close()
	writeDurable(t, filepath.Join(lfs.Dir(), "gone"), "G")
	if err := os.Rename(filepath.Join(lfs.Dir(), "gone"), filepath.Join(lfs.Dir(), "x", "moved")); err != nil {
		t.Fatal(err)
	}
	lfs.Unmount()
	expect(t, filepath.Join(back, "x", "y", "z"), "zed")
	expect(t, filepath.Join(back, "x", "moved"), "G")
	expect(t, filepath.Join(back, "gone"), "<missing>")
}

func TestRemountAtTheSameMountpoint(t *testing.T) {
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, nil)
	writeDurable(t, filepath.Join(lfs.Dir(), "a"), "A")
	dir := lfs.Dir()
	lfs.Cut()
	again := lazyfs.Mount(t, back, &lazyfs.Options{Mountpoint: dir})
	expect(t, filepath.Join(dir, "a"), "A")
	again.Cut()
}

func TestAfterACutTheMountIsGone(t *testing.T) {
	back := t.TempDir()
	lfs := lazyfs.Mount(t, back, nil)
	f := create(t, filepath.Join(lfs.Dir(), "a"), "x")
	lfs.Cut()
	if _, err := f.WriteString("y"); err == nil {
		t.Error("a write to a file open across the cut succeeded")
	}
}

// block returns n copies of c.
func block(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }

// kioskd --sim keeps its panel and control sockets in the data directory,
// so a socket must work on the mount.
func TestUnixSocketOnTheMount(t *testing.T) {
	lfs := lazyfs.Mount(t, t.TempDir(), nil)
	p := filepath.Join(lfs.Dir(), "control.sock")
	ln, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("hello"))
			c.Close()
		}
	}()
	c, err := net.Dial("unix", p)
	if err != nil {
		t.Fatalf("dial a socket on the mount: %v", err)
	}
	defer c.Close()
	b, _ := io.ReadAll(c)
	if string(b) != "hello" {
		t.Errorf("read %q over the socket", b)
	}
}
