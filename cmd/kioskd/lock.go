package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// lockFileName is the lock in the data dir. It is never deleted: a kioskd
// that removed it on its way out could let a second one lock a new file
// while a third still holds the old one.
const lockFileName = "kioskd.lock"

// errLockUnsupported: this platform has no flock; kioskd runs unlocked.
var errLockUnsupported = errors.New("no flock on this platform")

// lockHeldError is the refusal to start on a data dir another kioskd runs
// on. The other one is left alone, so its pid says whom to stop.
type lockHeldError struct {
	dir  string
	file string
	pid  int // 0 when the holder has not written it yet
}

func (e *lockHeldError) Error() string {
	who, stop := "another kioskd", "stop it first (systemctl stop tolem)"
	if e.pid > 0 {
		who = fmt.Sprintf("another kioskd (pid %d)", e.pid)
		stop = fmt.Sprintf("stop it first (systemctl stop tolem, or kill %d), or give this one another data dir", e.pid)
	}
	return fmt.Sprintf("%s is already running on the data dir %s (it holds %s); %s", who, e.dir, e.file, stop)
}

// dataDirLock is the exclusive lock of a running kioskd on its data dir;
// the kernel drops it when the process ends, however it ends.
type dataDirLock struct{ f *os.File }

// lockDataDir takes the data dir for this process before anything in it is
// opened, created or removed: a second kioskd on the same dir must refuse
// before its ledger, sandbox bank, emulator or sockets touch the first
// one's. A *lockHeldError means another kioskd holds it. Any other error
// means the lock file could not be opened (no such dir, no permission):
// the caller goes on, and the ledger in the same dir reports the fault.
func lockDataDir(dir string) (*dataDirLock, error) {
	path := filepath.Join(dir, lockFileName)
	// Readable by all, so that whoever is refused can read the holder's pid;
	// a lock file another user created can still be locked read-only.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	writable := err == nil
	if errors.Is(err, os.ErrPermission) {
		f, err = os.Open(path)
	}
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	held, err := flockExclusive(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if held {
		pid := readPid(f)
		f.Close()
		return nil, &lockHeldError{dir: dir, file: path, pid: pid}
	}
	if writable {
		// The pid is for the message of a kioskd refused later; the lock
		// itself is the flock, not the file's content.
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
	}
	return &dataDirLock{f: f}, nil
}

func readPid(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		return 0
	}
	return pid
}

// Release lets the next kioskd start on the data dir.
func (l *dataDirLock) Release() {
	if l != nil {
		l.f.Close()
	}
}
