package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
)

// Finding is the outcome of one check of a config against the machine it is
// to run on.
type Finding struct {
	// Outcome is "ok", "problem" or "skipped".
	Outcome string
	// Text names the key and says what was found and, for a problem, what
	// to do.
	Text string
}

// Outcomes of a Finding.
const (
	CheckOK      = "ok"
	CheckProblem = "problem"
	CheckSkipped = "skipped"
)

// LoadForCheck reads the config file at path as Load does, but also returns
// the config when it has problems (with the values it could decode), so that
// its machine can be checked too: a technician sees every problem at once.
// The config must not be used to run a kiosk unless problems is empty. err
// is set only when the file cannot be read.
func LoadForCheck(path string) (c *Config, ps []*Problem, err error) {
	data, err := readFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	c, all := decodeAll(data)
	for _, p := range all {
		p.File = path
	}
	return c, all, nil
}

// CheckMachine looks at what the config names on this machine, without side
// effects: the data dir and the sockets' directories exist and this user may
// write them, the serial devices exist and this user may read and write them.
// What cannot be checked so (the bank answering, the acceptor answering, the
// GPIO pins) is listed as skipped, with where it is checked instead.
func (c *Config) CheckMachine() []Finding {
	var out []Finding
	add := func(outcome, format string, a ...any) {
		out = append(out, Finding{outcome, fmt.Sprintf(format, a...)})
	}
	who := currentUser()
	if os.Geteuid() == 0 {
		add(CheckSkipped, "permissions: checked as root, who may do anything; kioskd runs as its own user (tolem): sudo -u tolem kioskd --check-config FILE checks them for it")
	}

	if c.DataDir != "" {
		switch fi, err := os.Stat(c.DataDir); {
		case errors.Is(err, fs.ErrNotExist):
			add(CheckProblem, "data_dir: %s does not exist: create it, owned by the user kioskd runs as (the .deb makes /var/lib/tolem), or set data_dir", c.DataDir)
		case err != nil:
			add(CheckProblem, "data_dir: %v", err)
		case !fi.IsDir():
			add(CheckProblem, "data_dir: %s is not a directory: set data_dir to the directory for the ledger", c.DataDir)
		case !accessible(c.DataDir, accessWrite|accessExec):
			add(CheckProblem, "data_dir: %s is not writable by %s: kioskd keeps its ledger there; chown it to the user kioskd runs as", c.DataDir, who)
		default:
			add(CheckOK, "data_dir: %s is a directory %s can write", c.DataDir, who)
		}
	}

	if c.Acceptor.Protocol != ProtocolSim && c.Acceptor.Port != "" {
		out = append(out, checkSerial("acceptor.port", c.Acceptor.Port, who, "is the bill acceptor plugged in? ls /dev/serial/by-id/ lists the serial devices"))
	}
	if c.Console != nil && c.Console.Port != "" {
		out = append(out, checkSerial("console.port", c.Console.Port, who, "on a Raspberry Pi enable the UART (enable_uart=1) or name the USB adapter's device"))
	}
	if c.Printer.Kind == PrinterESCPOS && c.Printer.Port != "" {
		// A USB printer (/dev/usb/lp0) is a character device like a tty;
		// its group is lp rather than dialout.
		out = append(out, checkSerial("printer.port", c.Printer.Port, who, "is the receipt printer plugged in and on? ls /dev/usb/ lists USB printers"))
	}

	if c.Panel.Kind == PanelSim && c.Panel.Socket != "" {
		out = append(out, checkSocketDir("panel.socket", c.Panel.Socket, who))
	}
	if c.Control.Socket != "" {
		out = append(out, checkSocketDir("control.socket", c.Control.Socket, who))
	}

	add(CheckSkipped, "the bank: whether %s answers and takes this terminal's secret (kioskd asks at start; kioskctl status shows the bank)", c.Bank.URL)
	if c.Acceptor.Protocol != ProtocolSim {
		add(CheckSkipped, "the acceptor: whether it answers on its port (kioskd polls it at start; kioskctl acceptor shows it)")
	}
	if c.Panel.Kind == PanelGPIO {
		add(CheckSkipped, "panel.gpio: the pins and the display on this board (kioskd opens them at start; test display and test keys on the console try them)")
	}
	return out
}

// checkSerial looks at a serial device: there, a character device, and open
// to this user for reading and writing.
func checkSerial(key, path, who, hint string) Finding {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Finding{CheckProblem, fmt.Sprintf("%s: %s does not exist: %s", key, path, hint)}
	case err != nil:
		return Finding{CheckProblem, fmt.Sprintf("%s: %v", key, err)}
	case fi.Mode()&fs.ModeCharDevice == 0:
		return Finding{CheckProblem, fmt.Sprintf("%s: %s is not a serial device (not a character device): %s", key, path, hint)}
	case !accessible(path, accessRead|accessWrite):
		return Finding{CheckProblem, fmt.Sprintf("%s: %s cannot be read and written by %s: add that user to the device's group (dialout on Debian), or install the udev rule (configs/udev)", key, path, who)}
	}
	return Finding{CheckOK, fmt.Sprintf("%s: %s is a serial device %s can read and write", key, path, who)}
}

// checkSocketDir looks at the directory of a socket kioskd makes.
func checkSocketDir(key, path, who string) Finding {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Finding{CheckSkipped, fmt.Sprintf("%s: %s does not exist yet: kioskd makes it at start (on a kiosk, systemd-tmpfiles makes /run/tolem at boot)", key, dir)}
	case err != nil:
		return Finding{CheckProblem, fmt.Sprintf("%s: %v", key, err)}
	case !fi.IsDir():
		return Finding{CheckProblem, fmt.Sprintf("%s: %s is not a directory: put the socket in a directory", key, dir)}
	case !accessible(dir, accessWrite|accessExec):
		return Finding{CheckProblem, fmt.Sprintf("%s: %s is not writable by %s: kioskd cannot make its socket there", key, dir, who)}
	}
	return Finding{CheckOK, fmt.Sprintf("%s: %s is a directory %s can write", key, dir, who)}
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return "user " + u.Username
	}
	return "uid " + strconv.Itoa(os.Getuid())
}
