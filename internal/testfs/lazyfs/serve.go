//go:build linux && (amd64 || arm64)

package lazyfs

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

func init() {
	if req := os.Getenv(envServe); req != "" {
		os.Exit(serve(req, os.Stdin, os.Stdout))
	}
}

// serve mounts, answers "ready" (or "skip …", "err …"), then waits for one
// command on in: "cut" or "unmount". A closed in (the test binary died) is a
// cut, so that no mount outlives its test.
func serve(reqJSON string, in io.Reader, out io.Writer) int {
	var req serveRequest
	if err := json.Unmarshal([]byte(reqJSON), &req); err != nil {
		fmt.Fprintf(out, "err bad request: %v\n", err)
		return 2
	}
	m, err := newModel(req.Backing)
	if err != nil {
		fmt.Fprintf(out, "err %v\n", err)
		return 1
	}
	server, err := mountModel(m, req.Options.Mountpoint)
	if err != nil {
		// fusermount3 reports a refused mount in words, not as an errno.
		msg := strings.ToLower(err.Error())
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) ||
			strings.Contains(msg, "permission denied") || strings.Contains(msg, "not permitted") {
			fmt.Fprintf(out, "skip this machine does not allow a FUSE mount: %v\n", err)
			return 1
		}
		fmt.Fprintf(out, "err %v\n", err)
		return 1
	}
	fmt.Fprintln(out, "ready")

	cmd := "cut"
	if line, err := bufio.NewReader(in).ReadString('\n'); err == nil {
		cmd = strings.TrimSpace(line)
	}
	seed := req.Options.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	m.mu.Lock()
	if cmd == "unmount" {
		err = m.syncAll()
	} else {
		err = m.cutPower(req.Options, rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)))
	}
	m.cut = true
	m.mu.Unlock()
	if err != nil {
		err = fmt.Errorf("writing %s: %w", m.backing, err)
	}
	err = errors.Join(err, unmount(server, req.Options.Mountpoint))
	if err != nil {
		fmt.Fprintf(out, "err %v\n", err)
		return 1
	}
	fmt.Fprintf(out, "ok seed=%d\n", seed)
	return 0
}

func mountModel(m *model, dir string) (*fuse.Server, error) {
	zero := time.Duration(0)
	root := &fnode{m: m, n: m.root}
	return fs.Mount(dir, root, &fs.Options{
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
}

// unmount takes the mount away even while a process still holds a file on
// it: a power cut does not wait. Such a process gets errors once this server
// exits.
func unmount(server *fuse.Server, dir string) error {
	if err := server.Unmount(); err == nil {
		return nil
	}
	if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return nil
}
