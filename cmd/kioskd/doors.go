package main

import (
	"context"
	"io"
	"sync"
	"time"

	"tolem/devices/serialport"
	"tolem/kiosk"
	"tolem/kiosk/config"
	"tolem/kiosk/console"
)

// Pauses of the serial console's supervision.
const (
	// consoleRetry is the wait before the console's port is opened again
	// after it failed (a USB adapter unplugged): short enough that a
	// technician who plugs it back in is not kept waiting.
	consoleRetry = 5 * time.Second
)

// doors are the technician's ways in, running.
type doors struct {
	control *controlServer
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	backend *consoleBackend
	console *console.Console
}

// startDoors opens the technician's ways in: the control socket for kioskctl
// and the updater, the serial console when the config has one, and the
// service-door switch when the panel has one. A `service off` saved before a
// restart is put back first, before the flow runs.
func startDoors(ctx context.Context, w *wiring) (io.Closer, error) {
	b := &consoleBackend{w: w}
	opts, err := consoleOptions(w)
	if err != nil {
		return nil, configError{err}
	}
	con := console.New(b, opts)
	b.restoreManual(ctx)
	ctx, cancel := context.WithCancel(ctx)
	cs, err := startControl(w.cfg.Control.Socket, &control{base: ctx, w: w, con: con, backend: b, log: w.log.With("component", "control")})
	if err != nil {
		cancel()
		return nil, err
	}
	d := &doors{control: cs, cancel: cancel, backend: b, console: con}
	if cc := w.cfg.Console; cc != nil {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			runSerialConsole(ctx, cc, con, w)
		}()
	}
	if w.panel != nil && w.panel.door != nil {
		// The door as found at start counts as a change (the console
		// assumes it shut): a door opened while the power was off raises
		// the alarm and keeps cash out, as one opened later does. A change
		// after this reading still arrives on the channel.
		if w.panel.doorOpen != nil && w.panel.doorOpen() {
			con.DoorChanged(true)
		}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			watchDoor(ctx, w.panel.door, con)
		}()
	}
	return d, nil
}

// Close stops the serial console and the control socket.
func (d *doors) Close() error {
	d.cancel()
	err := d.control.Close()
	d.wg.Wait()
	return err
}

func consoleOptions(w *wiring) (console.Options, error) {
	o := console.Options{
		AlarmAfter: w.cfg.Sync.AlarmAfter,
		SimDoor:    w.sim,
		Clock:      kiosk.SystemClock{},
		Log:        w.log.With("component", "console"),
	}
	if cc := w.cfg.Console; cc != nil {
		// Read again here, not only when the config was checked: this is the
		// list logins are checked against.
		techs, err := cc.Logins()
		if err != nil {
			return o, err
		}
		for _, t := range techs {
			o.Technicians = append(o.Technicians, console.Technician{ID: t.ID, PinHash: t.PinHash})
		}
		o.IdleLogout, o.LockoutAfter, o.LockoutFor = cc.IdleLogout, cc.LockoutAfter, cc.LockoutFor
	}
	return o, nil
}

// runSerialConsole serves the console on its serial port until ctx ends,
// opening the port again whenever the line fails: a console that gave up
// after an unplugged cable would need a restart to come back.
func runSerialConsole(ctx context.Context, cc *config.Console, con *console.Console, w *wiring) {
	log := w.log.With("component", "console", "port", cc.Port)
	lastErr := ""
	for {
		port, err := serialport.Open(cc.Port, cc.Baud, 0)
		if err != nil {
			// Said once, not every few seconds for as long as it lasts.
			if err.Error() != lastErr {
				log.Error("serial console: cannot open its port; check console.port and the cable", "err", err)
				lastErr = err.Error()
			}
		} else {
			if lastErr != "" {
				log.Info("serial console: port open again")
			}
			lastErr = ""
			log.Info("serial console ready", "baud", cc.Baud)
			err = con.Serve(ctx, port)
			port.Close()
			if ctx.Err() != nil {
				return
			}
			log.Warn("serial console: line failed; opening it again", "err", err)
			lastErr = err.Error()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(consoleRetry):
		}
	}
}

// watchDoor tells the console each change of the service-door switch.
func watchDoor(ctx context.Context, door <-chan bool, con *console.Console) {
	for {
		select {
		case <-ctx.Done():
			return
		case open, ok := <-door:
			if !ok {
				return
			}
			con.DoorChanged(open)
		}
	}
}
