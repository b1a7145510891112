package acceptortest

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"tolem/devices/serialport/pty"
)

// ErrClosed is what an emulator's controls report once it is closed.
var ErrClosed = errors.New("emulator closed")

// Port is an emulated unit's USB-serial adapter: a pseudo-terminal served by
// one goroutine, and the stable link a driver is configured with.
//
// Its state is guarded by the emulator's own mutex, passed to NewPort: the
// emulator reads it (Closed, Plugged) in the same critical sections as its
// mechanics, so that a bill is never taken by a unit being closed.
type Port struct {
	mu    sync.Locker
	link  string
	log   *slog.Logger
	serve func(master *os.File)

	master, slave *os.File
	path          string
	closed        bool
	wg            sync.WaitGroup
}

// NewPort makes an unplugged port. link, when set, is a symlink kept pointing
// at the current pty, the way udev keeps /dev/serial/by-id names: it vanishes
// on Unplug and comes back on Replug although the pty's own path changes.
// serve answers the controller on one pty's master until reading it fails.
func NewPort(mu sync.Locker, link string, log *slog.Logger, serve func(master *os.File)) *Port {
	return &Port{mu: mu, link: link, log: log, serve: serve}
}

// Path is the pty's slave device, the serial port a driver opens.
func (p *Port) Path() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.path
}

// LinkPath is the stable symlink, or "".
func (p *Port) LinkPath() string { return p.link }

// Closed reports whether Close was called; the caller holds the lock.
func (p *Port) Closed() bool { return p.closed }

// Plugged reports whether a pty is open; the caller holds the lock.
func (p *Port) Plugged() bool { return p.master != nil }

// Close unplugs the unit for good and waits for its server to stop.
func (p *Port) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.unplugLocked()
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// Plug opens a new pty and serves it.
func (p *Port) Plug() error {
	m, s, err := pty.Open()
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		m.Close()
		s.Close()
		return ErrClosed
	}
	p.master, p.slave, p.path = m, s, s.Name()
	if l := p.link; l != "" {
		// Rename over the old name so a driver never sees a half-made link.
		tmp := l + ".new"
		os.Remove(tmp)
		if err := os.Symlink(p.path, tmp); err != nil {
			return fmt.Errorf("link %s to the emulator's pty: %w", l, err)
		}
		if err := os.Rename(tmp, l); err != nil {
			return fmt.Errorf("link %s to the emulator's pty: %w", l, err)
		}
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.serve(m)
	}()
	p.log.Info("acceptor emulator plugged in", "pty", p.path, "link", p.link)
	return nil
}

func (p *Port) unplugLocked() {
	if p.master == nil {
		return
	}
	p.master.Close()
	p.slave.Close()
	p.master, p.slave = nil, nil
	if l := p.link; l != "" {
		os.Remove(l)
	}
	p.log.Info("acceptor emulator unplugged", "pty", p.path)
}

// Unplug pulls the adapter out: the pty closes (the driver's reads fail, the
// device node vanishes) and the link goes away.
func (p *Port) Unplug() {
	p.mu.Lock()
	p.unplugLocked()
	p.mu.Unlock()
}

// Replug plugs the adapter back in: a new pty, maybe under another path; the
// link, if any, points at it again.
func (p *Port) Replug() error {
	p.mu.Lock()
	plugged := p.master != nil
	p.mu.Unlock()
	if plugged {
		return nil
	}
	return p.Plug()
}
