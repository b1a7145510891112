package main

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"tolem/devices/ccnet"
	"tolem/devices/ccnet/ccnettest"
	"tolem/devices/panel/simpanel"
	"tolem/devices/simacceptor"
	"tolem/kiosk"
	"tolem/kiosk/config"
)

// openAcceptor starts the driver of the bill acceptor the config names. A
// missing device is not an error here: the driver reports it disconnected
// and keeps trying, so a loose cable at boot does not stop the kiosk.
func openAcceptor(cfg *config.Config, log *slog.Logger) (kiosk.Acceptor, error) {
	switch cfg.Acceptor.Protocol {
	case config.ProtocolCCNET:
		return ccnet.New(cfg.Acceptor.Port, &ccnet.Opts{
			Baud:       cfg.Acceptor.Baud,
			Currencies: cfg.Acceptor.Currencies,
			Log:        log.With("component", "ccnet"),
		})
	case config.ProtocolSim:
		return simacceptor.New(simacceptor.Options{StateFile: filepath.Join(cfg.DataDir, "acceptor.json"), Log: log})
	}
	return nil, configError{fmt.Errorf("acceptor.protocol %q: this build drives ccnet and sim acceptors only; set acceptor.protocol: ccnet", cfg.Acceptor.Protocol)}
}

// configError is a start-up failure that the config can fix and a restart
// cannot: kioskd exits with exitBadConfig, which systemd does not restart.
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

// startSimAcceptor gives --sim its bill acceptor. By default it is a CCNET
// validator emulated on a pseudo-terminal and driven by the real CCNET
// driver, so the demo runs the code that ships; "inproc" swaps in the
// simpler in-process simulator. The emulator keeps its state beside the
// ledger, so a killed kiosk finds the bill it was stacking at the next start,
// as a real device would.
func startSimAcceptor(cfg *config.Config, log *slog.Logger, kind string) (kiosk.Acceptor, simpanel.BillFeeder, func(), error) {
	state := filepath.Join(cfg.DataDir, "acceptor.json")
	if kind == "inproc" {
		a, err := simacceptor.New(simacceptor.Options{StateFile: state, Log: log})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("simulated acceptor: %w", err)
		}
		return a, a, func() {}, nil
	}
	emu, err := ccnettest.Start(ccnettest.EmuOptions{
		StateFile: state,
		LinkPath:  simAcceptorLink(cfg.DataDir),
		Log:       log.With("component", "acceptor-emulator"),
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("acceptor emulator: %w", err)
	}
	log.Info("CCNET acceptor emulated on a pty", "path", emu.Path(), "link", emu.LinkPath())
	dev, err := ccnet.New(emu.LinkPath(), &ccnet.Opts{
		Currencies: cfg.Acceptor.Currencies,
		Log:        log.With("component", "ccnet"),
	})
	if err != nil {
		emu.Close()
		return nil, nil, nil, fmt.Errorf("CCNET driver: %w", err)
	}
	return dev, slotFeeder{emu}, func() { emu.Close() }, nil
}
