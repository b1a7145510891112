package main

// kioskctl update: signed release updates on the kiosk itself (SPEC §7).
//
//	kioskctl update apply [--allow-downgrade] [--config FILE] [--sig FILE] [--json] FILE
//	kioskctl update verify [--config FILE] [--sig FILE] [--json] FILE
//	kioskctl update status [--config FILE] [--json]
//	kioskctl update recover [--config FILE] [--boot]
//	kioskctl update arch
//
// Exit codes of update (the playbook under configs/ansible relies on them):
//
//	0  updated and healthy (recover: nothing left unfinished)
//	1  failed before switching: I/O error, config unreadable, another update
//	   running; current is unchanged
//	2  bad usage
//	3  signature or release not valid (also: update.keys empty)
//	4  release built for another architecture
//	5  older than the installed release (--allow-downgrade to force)
//	6  the new release was not healthy in time: rolled back, old one healthy
//	7  rollback failed: a technician must look
//	8  this version is already installed and current: nothing to do
//	9  kioskd did not drain (a customer stayed mid-session): try again later

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"tolem/kiosk/config"
	"tolem/kiosk/update"
)

// Exit codes of kioskctl update.
const (
	exitUpdated        = 0
	exitFailed         = 1
	exitUsage          = 2
	exitBadRelease     = 3
	exitWrongArch      = 4
	exitDowngrade      = 5
	exitRolledBack     = 6
	exitRollbackFailed = 7
	exitInstalled      = 8
	exitBusy           = 9
)

const defaultConfigPath = "/etc/tolem/kiosk.yaml"

// restartTimeout bounds update.restart_command; systemctl restart of a
// Type=notify unit returns once the daemon is ready, within its start
// timeout (90 s by default).
const restartTimeout = 3 * time.Minute

// updateHooks lets tests stand in for the architecture and the restart
// command without a systemd.
var updateHooks struct {
	arch    string
	restart func(context.Context) error
}

func updateUsage(w io.Writer) {
	fmt.Fprint(w, `usage: kioskctl update <command> [flags]

commands:
  apply [--allow-downgrade] [--config FILE] [--sig FILE] [--json] FILE
          verify FILE (a tolem-<version>-linux-<arch>.tar.gz) and its signature
          (FILE.minisig), wait for any customer to finish, switch to it, restart
          kioskd, and roll back unless it is healthy within update.health_timeout
  verify [--config FILE] [--sig FILE] [--json] FILE
          check the signature and content only; install nothing
  status [--config FILE] [--json]
          current and previous release, releases on disk, the last update
  recover [--config FILE] [--boot]
          roll back an update cut short by a power cut or a killed kioskctl
          (--boot: before kioskd starts, from tolem-update-check.service)
  arch    the architecture name a release for this kiosk must have

exit codes: 0 updated, 1 failed before switching, 2 usage, 3 bad signature or
release, 4 wrong architecture, 5 older version refused, 6 rolled back,
7 rollback failed, 8 already installed, 9 kiosk busy (drain timed out)
`)
}

// runUpdate is `kioskctl update ...`; args follow the word update.
func runUpdate(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		updateUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "apply", "verify", "status", "recover", "arch":
		for _, a := range args[1:] {
			if a == "-h" || a == "-help" || a == "--help" {
				updateUsage(stdout)
				return exitUpdated
			}
		}
	}
	switch args[0] {
	case "apply":
		return updateApply(args[1:], stdout, stderr)
	case "verify":
		return updateVerify(args[1:], stdout, stderr)
	case "status":
		return updateStatus(args[1:], stdout, stderr)
	case "recover":
		return updateRecover(args[1:], stdout, stderr)
	case "arch":
		fmt.Fprintln(stdout, localArch())
		return exitUpdated
	case "help", "-h", "--help":
		updateUsage(stdout)
		return exitUpdated
	}
	fmt.Fprintf(stderr, "kioskctl update: unknown command %q\n", args[0])
	updateUsage(stderr)
	return exitUsage
}

func localArch() string {
	if updateHooks.arch != "" {
		return updateHooks.arch
	}
	return update.LocalArch()
}

// updateFlags are the flags the update commands share.
type updateFlags struct {
	fs             *flag.FlagSet
	config         string
	sig            string
	socket         string
	json           bool
	allowDowngrade bool
	boot           bool
	drainTimeout   time.Duration
	arch           string
}

func newUpdateFlags(name string, stderr io.Writer) *updateFlags {
	f := &updateFlags{fs: flag.NewFlagSet("kioskctl update "+name, flag.ContinueOnError)}
	f.fs.SetOutput(stderr)
	f.fs.StringVar(&f.config, "config", defaultConfigPath, "kioskd's config `FILE` (update section, control socket)")
	f.fs.BoolVar(&f.json, "json", false, "print the result as JSON")
	return f
}

// parse takes the flags before and after the positional arguments, so
// that `apply FILE --allow-downgrade` works as an operator types it.
func (f *updateFlags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.fs.Parse(args); err != nil {
			return nil, err
		}
		args = f.fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func newUpdateLog(stderr io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // journald and the playbook add their own
			}
			return a
		},
	}))
}

func updateApply(args []string, stdout, stderr io.Writer) int {
	f := newUpdateFlags("apply", stderr)
	f.fs.BoolVar(&f.allowDowngrade, "allow-downgrade", false, "install an older release, or the installed one again")
	f.fs.StringVar(&f.sig, "sig", "", "the minisign signature `FILE` (default: FILE.minisig)")
	f.fs.StringVar(&f.socket, "socket", "", "kioskd's control `socket` (default: control.socket of the config)")
	f.fs.DurationVar(&f.drainTimeout, "drain-timeout", update.DefaultDrainTimeout, "how long to wait for a customer to finish")
	f.fs.StringVar(&f.arch, "arch", "", "install for this `architecture` instead of this kiosk's (only to move a kiosk to another build)")
	pos, err := f.parse(args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "kioskctl update apply: want exactly one release file")
		return exitUsage
	}
	tarball := pos[0]
	if f.sig == "" {
		f.sig = tarball + ".minisig"
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return updateFail(stdout, stderr, f.json, "apply", exitFailed, err)
	}
	opts := updateOptions(cfg, f, stderr)
	opts.AllowDowngrade = f.allowDowngrade
	if f.arch != "" {
		opts.Arch = f.arch
	}

	ctx, stop := updateContext()
	defer stop()
	res, err := update.Apply(ctx, tarball, f.sig, opts)
	if err != nil {
		return updateFail(stdout, stderr, f.json, "apply", updateExitCode(err), err)
	}
	if f.json {
		writeUpdateJSON(stdout, map[string]any{"result": "updated", "exit": exitUpdated, "from": res.From, "to": res.To, "health": res.Health})
	} else {
		from := res.From
		if from == "" {
			from = "nothing"
		}
		fmt.Fprintf(stdout, "updated %s -> %s: %s\n", from, res.To, res.Health)
	}
	return exitUpdated
}

// updateOptions builds update.Options from the config.
func updateOptions(cfg *config.Config, f *updateFlags, stderr io.Writer) update.Options {
	socket := cfg.Control.Socket
	if f.socket != "" {
		socket = f.socket
	}
	u := cfg.Update
	restart := updateHooks.restart
	if restart == nil {
		restart = commandRestart(u.RestartCommand, stderr)
	}
	return update.Options{
		Root:          u.Root,
		Keys:          u.Keys,
		Arch:          localArch(),
		Daemon:        update.NewSocketDaemon(socket),
		Restart:       restart,
		HealthTimeout: u.HealthTimeout,
		DrainTimeout:  f.drainTimeout,
		Keep:          u.Keep,
		Log:           newUpdateLog(stderr),
	}
}

// commandRestart runs update.restart_command, argv with no shell.
func commandRestart(argv []string, stderr io.Writer) func(context.Context) error {
	return func(ctx context.Context) error {
		if len(argv) == 0 {
			return errors.New("update.restart_command is empty")
		}
		ctx, cancel := context.WithTimeout(ctx, restartTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stdout, cmd.Stderr = stderr, stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
		}
		return nil
	}
}

// updateContext is cancelled by Ctrl-C or SIGTERM, after which an update
// past its switch rolls back. A dropped SSH session (SIGHUP, then SIGPIPE
// on output) must not kill an update half way, so both are caught and
// ignored.
func updateContext() (context.Context, func()) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ignored := make(chan os.Signal, 4)
	signal.Notify(ignored, syscall.SIGHUP, syscall.SIGPIPE)
	return ctx, func() {
		signal.Stop(ignored)
		stop()
	}
}

func updateExitCode(err error) int {
	switch {
	case err == nil:
		return exitUpdated
	case errors.Is(err, update.ErrSignature), errors.Is(err, update.ErrManifest):
		return exitBadRelease
	case errors.Is(err, update.ErrArch):
		return exitWrongArch
	case errors.Is(err, update.ErrDowngrade):
		return exitDowngrade
	case errors.Is(err, update.ErrInstalled):
		return exitInstalled
	case errors.Is(err, update.ErrRolledBack):
		return exitRolledBack
	case errors.Is(err, update.ErrRollbackFailed):
		return exitRollbackFailed
	case errors.Is(err, update.ErrBusy):
		return exitBusy
	}
	return exitFailed
}

var updateResults = map[int]string{
	exitFailed: "failed", exitBadRelease: "invalid", exitWrongArch: "wrong_arch", exitDowngrade: "downgrade_refused",
	exitRolledBack: "rolled_back", exitRollbackFailed: "rollback_failed", exitInstalled: "already_installed", exitBusy: "busy",
}

func updateFail(stdout, stderr io.Writer, asJSON bool, cmd string, code int, err error) int {
	if errors.Is(err, fs.ErrPermission) {
		err = fmt.Errorf("%w (updates change /opt/tolem and restart the daemon: run as root, e.g. with sudo)", err)
	}
	if asJSON {
		writeUpdateJSON(stdout, map[string]any{"result": updateResults[code], "exit": code, "error": err.Error()})
	}
	fmt.Fprintf(stderr, "kioskctl update %s: %v\n", cmd, err)
	return code
}

func writeUpdateJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func updateVerify(args []string, stdout, stderr io.Writer) int {
	f := newUpdateFlags("verify", stderr)
	f.fs.StringVar(&f.sig, "sig", "", "the minisign signature `FILE` (default: FILE.minisig)")
	pos, err := f.parse(args)
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "kioskctl update verify: want exactly one release file")
		return exitUsage
	}
	if f.sig == "" {
		f.sig = pos[0] + ".minisig"
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return updateFail(stdout, stderr, f.json, "verify", exitFailed, err)
	}
	m, err := update.Verify(pos[0], f.sig, cfg.Update.Keys)
	if err != nil {
		return updateFail(stdout, stderr, f.json, "verify", updateExitCode(err), err)
	}
	code := exitUpdated
	if m.Arch != localArch() {
		code = exitWrongArch
	}
	if f.json {
		writeUpdateJSON(stdout, map[string]any{"result": "valid", "exit": code, "manifest": m, "kiosk_arch": localArch()})
	} else {
		fmt.Fprintf(stdout, "valid: tolem %s for %s, %d files\n", m.Version, m.Arch, len(m.Files))
		if code != exitUpdated {
			fmt.Fprintf(stdout, "but this kiosk runs %s\n", localArch())
		}
	}
	return code
}

func updateStatus(args []string, stdout, stderr io.Writer) int {
	f := newUpdateFlags("status", stderr)
	if pos, err := f.parse(args); err != nil || len(pos) != 0 {
		return exitUsage
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return updateFail(stdout, stderr, f.json, "status", exitFailed, err)
	}
	st, err := update.ReadStatus(cfg.Update.Root)
	if err != nil {
		return updateFail(stdout, stderr, f.json, "status", exitFailed, err)
	}
	st.Arch = localArch()
	if f.json {
		writeUpdateJSON(stdout, st)
		return exitUpdated
	}
	fmt.Fprintf(stdout, "root      %s (%s)\n", st.Root, st.Arch)
	fmt.Fprintf(stdout, "current   %s\n", orNone(st.Current))
	fmt.Fprintf(stdout, "previous  %s\n", orNone(st.Previous))
	fmt.Fprintf(stdout, "releases  %s\n", orNone(strings.Join(st.Releases, " ")))
	if st.Problem != "" {
		fmt.Fprintf(stdout, "problem   %s\n", st.Problem)
	}
	if j := st.LastUpdate; j != nil {
		fmt.Fprintf(stdout, "last      %s -> %s: %s at %s\n", orNone(j.From), j.To, j.State, j.Updated.Format(time.RFC3339))
		if j.Reason != "" {
			fmt.Fprintf(stdout, "reason    %s\n", j.Reason)
		}
	}
	return exitUpdated
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func updateRecover(args []string, stdout, stderr io.Writer) int {
	f := newUpdateFlags("recover", stderr)
	f.fs.BoolVar(&f.boot, "boot", false, "run before kioskd starts: switch back only, leave the daemon alone")
	if pos, err := f.parse(args); err != nil || len(pos) != 0 {
		return exitUsage
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		if !f.boot {
			return updateFail(stdout, stderr, false, "recover", exitFailed, err)
		}
		// At boot a broken config must not keep a cut update in place:
		// kioskd will refuse the config anyway, and the root rarely moves.
		fmt.Fprintf(stderr, "kioskctl update recover: %v; using the default update root\n", err)
		cfg = config.Default()
	}
	opts := updateOptions(cfg, f, stderr)
	ctx, stop := updateContext()
	defer stop()
	j, err := update.Recover(ctx, opts, f.boot)
	if err != nil {
		if f.boot && errors.Is(err, update.ErrLocked) {
			// An update is running and will finish its own work.
			fmt.Fprintf(stderr, "kioskctl update recover: %v\n", err)
			return exitUpdated
		}
		return updateFail(stdout, stderr, false, "recover", exitFailed, err)
	}
	if j == nil {
		fmt.Fprintln(stdout, "no unfinished update")
		return exitUpdated
	}
	fmt.Fprintf(stdout, "%s -> %s: %s\n", orNone(j.From), j.To, j.Reason)
	return exitUpdated
}
