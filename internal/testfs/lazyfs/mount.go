package lazyfs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
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

// envServe, set in the environment of this test binary run again, makes it
// the server of one mount: its value is the serveRequest.
const envServe = "TOLEM_LAZYFS_SERVE"

type serveRequest struct {
	Backing string
	Options Options
}

// FS is one mount. After Cut or Unmount it serves nothing; mount the backing
// directory again to see what survived.
//
// The file system is served by a child process (this test binary, run
// again): a process must not serve a FUSE mount it also uses, since a page
// fault on a mapped file of the mount (SQLite maps its -shm file) can stall
// the Go runtime that has to answer it.
type FS struct {
	t       testing.TB
	backing string
	dir     string
	opts    Options
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Reader
	once    sync.Once
	err     error
}

// Available says why this machine cannot mount a FUSE file system, or nil
// when it can: /dev/fuse must open, and a non-root user needs fusermount3 (or
// fusermount) on PATH.
func Available() error {
	if !fuseBuilt {
		return fmt.Errorf("not built for %s/%s: the power-cut tests run on linux amd64 and arm64", runtime.GOOS, runtime.GOARCH)
	}
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
	if o.Mountpoint == "" {
		o.Mountpoint = t.TempDir()
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("lazyfs: find this test binary to serve the mount: %v", err)
	}
	req, _ := json.Marshal(serveRequest{Backing: backing, Options: o})
	cmd := exec.Command(exe)
	// A race-detector build sleeps a second at exit unless told not to.
	cmd.Env = append(os.Environ(), envServe+"="+string(req),
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		// Under qemu-user (make test-arm) this binary may not run again.
		t.Skipf("lazyfs: cannot run %s again to serve the mount: %v", exe, err)
	}
	f := &FS{t: t, backing: backing, dir: o.Mountpoint, opts: o, cmd: cmd, in: in, out: bufio.NewReader(outPipe)}
	line, err := f.out.ReadString('\n')
	switch line = strings.TrimSpace(line); {
	case line == "ready":
	case strings.HasPrefix(line, "skip "):
		f.wait()
		t.Skipf("lazyfs: %s", strings.TrimPrefix(line, "skip "))
	default:
		f.wait()
		t.Fatalf("lazyfs: mount %s over %s: %s%v", o.Mountpoint, backing, strings.TrimPrefix(line, "err "), err)
	}
	t.Cleanup(func() {
		if err := f.stop("cut"); err != nil {
			t.Error(err)
		}
	})
	return f
}

// Dir is the mount point.
func (f *FS) Dir() string { return f.dir }

// Backing is the directory that holds what survives.
func (f *FS) Backing() string { return f.backing }

// Cut cuts the power: what was not made durable is gone (save what the
// Options let land), the mount goes away, and Backing holds what a boot
// would find. Processes still using the mount get errors; stop them first.
func (f *FS) Cut() {
	f.t.Helper()
	if err := f.stop("cut"); err != nil {
		f.t.Fatal(err)
	}
}

// Unmount is a clean shutdown: every change is written to Backing first.
func (f *FS) Unmount() {
	f.t.Helper()
	if err := f.stop("unmount"); err != nil {
		f.t.Fatal(err)
	}
}

func (f *FS) stop(how string) error {
	f.once.Do(func() {
		var line string
		_, err := io.WriteString(f.in, how+"\n")
		if err == nil {
			line, err = f.out.ReadString('\n')
		}
		line = strings.TrimSpace(line)
		werr := f.wait()
		switch {
		case strings.HasPrefix(line, "ok"):
			if seed := strings.TrimSpace(strings.TrimPrefix(line, "ok")); seed != "" && (f.opts.Torn || f.opts.Reorder) {
				f.t.Logf("lazyfs: power cut with Torn=%v Reorder=%v EagerNames=%v, %s", f.opts.Torn, f.opts.Reorder, f.opts.EagerNames, seed)
			}
		case line != "":
			f.err = fmt.Errorf("lazyfs: %s %s: %s", how, f.dir, strings.TrimPrefix(line, "err "))
		default:
			f.err = fmt.Errorf("lazyfs: %s %s: the server did not answer (%v, %v)", how, f.dir, err, werr)
		}
	})
	return f.err
}

func (f *FS) wait() error {
	f.in.Close()
	return f.cmd.Wait()
}
