package lazyfs

import (
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// Options make a cut crueler than losing every unsynced change. Each adds
// to the others.
type Options struct {
	// Torn: the unsynced writes of each file land in order, up to the last
	// one, of which only a part lands (whole 512-byte sectors of it when it
	// spans more than one).
	Torn bool
	// Reorder: a random subset of each file's unsynced writes and truncates
	// lands, in their order.
	Reorder bool
	// EagerNames: every unsynced directory entry lands (creations, renames,
	// unlinks), while the unsynced data behind them does not: a file
	// renamed over another before its data was fsynced is left empty.
	EagerNames bool
	// Seed seeds the random choices of Torn and Reorder; 0 picks one, which
	// Cut logs.
	Seed uint64
	// Mountpoint is where to mount (it must exist); empty: a new temporary
	// directory. A test that mounts the same backing again after a cut
	// passes the first mount's Dir to find its files at the same path.
	Mountpoint string
}

// FS is one mount. After Cut or Unmount it serves nothing; mount the backing
// directory again to see what survived.
type FS struct {
	t      testing.TB
	m      *model
	server *fuse.Server
	dir    string
	opts   Options
	once   sync.Once
	err    error
}

// Available says why this machine cannot mount a FUSE file system, or nil
// when it can: /dev/fuse must open, and a non-root user needs fusermount3 (or
// fusermount) on PATH.
func Available() error {
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("no usable /dev/fuse (%v): install fuse3 (make test-deps) or run where FUSE is allowed", err)
	}
	f.Close()
	if os.Geteuid() == 0 {
		return nil
	}
	for _, bin := range []string{"fusermount3", "fusermount"} {
		if _, err := exec.LookPath(bin); err == nil {
			return nil
		}
	}
	return errors.New("no fusermount3 on PATH and not root: install fuse3 (make test-deps)")
}

// Mount serves backing at a mount point (opts.Mountpoint or a temporary
// directory) until Cut, Unmount or the end of the test, which cuts. Without
// FUSE on this machine it skips the test, saying why.
func Mount(t testing.TB, backing string, opts *Options) *FS {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("lazyfs: %v", err)
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	m, err := newModel(backing)
	if err != nil {
		t.Fatal(err)
	}
	dir := o.Mountpoint
	if dir == "" {
		dir = t.TempDir()
	}
	zero := time.Duration(0)
	root := &fnode{m: m, n: m.root}
	server, err := fs.Mount(dir, root, &fs.Options{
		MountOptions: fuse.MountOptions{
			FsName:        "lazyfs",
			Name:          "lazyfs",
			DirectMount:   true,
			DisableXAttrs: true,
			MaxWrite:      1 << 20,
			// A cut aborts the connection under the server, which would log
			// it: that is the point, not news.
			Logger: log.New(io.Discard, "", 0),
		},
		// No caching of names or attributes in the kernel: the model is the
		// only truth, and a cut must not leave a stale view behind.
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		RootStableAttr:  &fs.StableAttr{Ino: m.root.ino, Mode: syscall.S_IFDIR},
	})
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			t.Skipf("lazyfs: this machine does not allow a FUSE mount: %v", err)
		}
		t.Fatalf("lazyfs: mount %s over %s: %v", dir, backing, err)
	}
	f := &FS{t: t, m: m, server: server, dir: dir, opts: o}
	t.Cleanup(func() {
		if err := f.stop(false); err != nil {
			t.Error(err)
		}
	})
	return f
}

// Dir is the mount point.
func (f *FS) Dir() string { return f.dir }

// Backing is the directory that holds what survives.
func (f *FS) Backing() string { return f.m.backing }

// Cut cuts the power: what was not made durable is gone (save what the
// Options let land), the mount goes away, and Backing holds what a boot
// would find. Processes still using the mount get EIO; stop them first.
func (f *FS) Cut() {
	f.t.Helper()
	if err := f.stop(false); err != nil {
		f.t.Fatal(err)
	}
}

// Unmount is a clean shutdown: every change is written to Backing first.
func (f *FS) Unmount() {
	f.t.Helper()
	if err := f.stop(true); err != nil {
		f.t.Fatal(err)
	}
}

func (f *FS) stop(clean bool) error {
	f.once.Do(func() {
		f.m.mu.Lock()
		var err error
		if clean {
			err = f.m.syncAll()
			f.m.cut = true
		} else {
			seed := f.opts.Seed
			if seed == 0 {
				seed = rand.Uint64()
			}
			if f.opts.Torn || f.opts.Reorder {
				f.t.Logf("lazyfs: power cut with Torn=%v Reorder=%v EagerNames=%v Seed=%d", f.opts.Torn, f.opts.Reorder, f.opts.EagerNames, seed)
			}
			err = f.m.cutPower(f.opts, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
		}
		f.m.mu.Unlock()
		if err != nil {
			err = fmt.Errorf("lazyfs: writing %s: %w", f.m.backing, err)
		}
		f.err = errors.Join(err, f.unmount())
	})
	return f.err
}

// unmount takes the mount away even while a process still holds a file on
// it: a power cut does not wait. Such a process gets EIO until it closes the
// file, when the kernel lets the server go.
func (f *FS) unmount() error {
	if err := f.server.Unmount(); err == nil {
		return nil
	}
	if err := syscall.Unmount(f.dir, syscall.MNT_DETACH); err != nil {
		return fmt.Errorf("lazyfs: unmount %s: %w", f.dir, err)
	}
	go f.server.Wait()
	return nil
}
