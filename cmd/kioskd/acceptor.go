package main

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"tolem/devices/ccnet"
	"tolem/devices/ccnet/ccnettest"
	"tolem/devices/id003"
	"tolem/devices/id003/id003test"
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
	case config.ProtocolID003:
		return id003.New(cfg.Acceptor.Port, &id003.Opts{
			Baud:      cfg.Acceptor.Baud,
			Countries: id003.CountriesFromConfig(cfg.Acceptor.Currencies),
			Log:       log.With("component", "id003"),
		})
	case config.ProtocolSim:
		return simacceptor.New(simacceptor.Options{StateFile: filepath.Join(cfg.DataDir, "acceptor.json"), Log: log})
	}
	return nil, configError{fmt.Errorf("acceptor.protocol %q: this build drives ccnet, id003 and sim acceptors only", cfg.Acceptor.Protocol)}
}

// configError is a start-up failure that the config can fix and a restart
// cannot: kioskd exits with exitBadConfig, which systemd does not restart.
type configError struct{ error }

func (e configError) Unwrap() error { return e.error }

// startSimAcceptor gives --sim its bill acceptor. By default it is a CCNET
// validator emulated on a pseudo-terminal and driven by the real CCNET
// driver, so the demo runs the code that ships; "id003" does the same with a
// JCM unit and the ID-003 driver, and "inproc" swaps in the simpler
// in-process simulator. The emulator keeps its state beside the ledger, so a
// killed kiosk finds the bill it was stacking at the next start, as a real
// device would.
func startSimAcceptor(cfg *config.Config, log *slog.Logger, kind string) (kiosk.Acceptor, simpanel.BillFeeder, func(), error) {
	link := simAcceptorLink(cfg.DataDir)
	emuLog := log.With("component", "acceptor-emulator")
	switch kind {
	case "inproc":
		a, err := simacceptor.New(simacceptor.Options{StateFile: filepath.Join(cfg.DataDir, "acceptor.json"), Log: log})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("simulated acceptor: %w", err)
		}
		return a, a, func() {}, nil
	case "id003":
		emu, err := id003test.Start(id003test.EmuOptions{StateFile: filepath.Join(cfg.DataDir, simStateFile(kind)),
			LinkPath: link, Log: emuLog})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("acceptor emulator: %w", err)
		}
		log.Info("JCM ID-003 acceptor emulated on a pty", "path", emu.Path(), "link", emu.LinkPath())
		// The emulator's country code for tenge is its own; pinned, as an
		// operator would pin a real unit's.
		countries := id003.CountriesFromConfig(cfg.Acceptor.Currencies)
		countries[id003test.KZTCountry] = kiosk.Currency
		dev, err := id003.New(emu.LinkPath(), &id003.Opts{
			Countries: countries,
			Log:       log.With("component", "id003"),
		})
		if err != nil {
			emu.Close()
			return nil, nil, nil, fmt.Errorf("ID-003 driver: %w", err)
		}
		return dev, slotFeeder{emu}, func() { emu.Close() }, nil
	case "", "ccnet":
	default:
		return nil, nil, nil, configError{fmt.Errorf("--sim-acceptor %q: use ccnet, id003 or inproc", kind)}
	}
	emu, err := ccnettest.Start(ccnettest.EmuOptions{
		StateFile: filepath.Join(cfg.DataDir, simStateFile(kind)),
		LinkPath:  link,
		Log:       emuLog,
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

// simStateFile is where the emulated acceptor of kind keeps its mechanics in
// the data dir; each kind has its own, so switching kinds never misreads one.
func simStateFile(kind string) string {
	if kind == "id003" {
		return "acceptor-id003.json"
	}
	return "acceptor.json"
}
