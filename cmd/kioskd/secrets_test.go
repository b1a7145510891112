package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kioskd refuses to start, and --check-config refuses the config, while the
// bank secret or the technicians' PIN hashes sit in a file that the kiosk's
// group (technicians on SSH) or others may read or write; the message names
// the file, its mode and the chmod that fixes it.
func TestSecretFilesReadableByOthersAreRefused(t *testing.T) {
	dir := shortDir(t)
	secret := filepath.Join(dir, "bank.secret")
	techs := filepath.Join(dir, "technicians.yaml")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	os.WriteFile(techs, []byte("- {id: t01, pin_hash: \"$2a$10$T4CbYz2bgRURpLtgTWfpVOVp4LrDzMcbie9WWVXOJMr0YsSCdOJ6S\"}\n"), 0o600)
	cfgPath := filepath.Join(dir, "kiosk.yaml")
	os.WriteFile(cfgPath, []byte("terminal_id: KZ-T-1\ndata_dir: "+dir+"\n"+
		"bank: {url: 'http://127.0.0.1:9', secret_file: "+secret+"}\n"+
		"acceptor: {protocol: sim}\npanel: {kind: none}\ncontrol: {socket: "+dir+"/c.sock}\n"+
		"console: {port: /dev/null, technicians_file: "+techs+"}\n"), 0o640)

	check := func(args ...string) (int, string) {
		if args[0] == "--check-config" {
			var out strings.Builder
			code := run(args, nil, &out, &out)
			return code, out.String()
		}
		// A kioskd that wrongly starts must not hang the test.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, kioskdBinary(t), args...).CombinedOutput()
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode(), string(out)
		}
		return -1, fmt.Sprintf("%v\n%s", err, out)
	}
	for _, tt := range []struct {
		file string
		mode os.FileMode
		want string
	}{
		{secret, 0o640, secret + " has mode 0640: its group can read it"},
		{secret, 0o604, secret + " has mode 0604: others can read it"},
		{techs, 0o660, techs + " has mode 0660: its group can read and write it"},
	} {
		os.Chmod(tt.file, tt.mode)
		for _, args := range [][]string{{"--check-config", cfgPath}, {"--config", cfgPath}} {
			code, out := check(args...)
			if code != exitBadConfig || !strings.Contains(out, tt.want) || !strings.Contains(out, "chmod 600 "+tt.file) {
				t.Errorf("kioskd %s with %s at %04o: exit %d\n%s\nwant exit %d saying %q and chmod 600", args[0], filepath.Base(tt.file), tt.mode, code, out, exitBadConfig, tt.want)
			}
		}
		os.Chmod(tt.file, 0o600)
	}
	if code, out := check("--check-config", cfgPath); code != exitOK {
		t.Errorf("private files refused: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "ledger.db")); err == nil {
		t.Error("a refused kioskd opened the ledger")
	}
}
