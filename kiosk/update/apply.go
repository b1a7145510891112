package update

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"aead.dev/minisign"

	"tolem/kiosk"
)

// Step names a point between two changes on disk or to the daemon. Tests
// stop an update at each one to play a power cut there.
type Step string

// The steps of an update, in order; the last two belong to a rollback.
const (
	StepUnpack     Step = "unpack"      // the first file is in the temporary directory
	StepUnpacked   Step = "unpacked"    // the temporary directory is complete, not yet renamed
	StepInstalled  Step = "installed"   // releases/<version> is in place
	StepDrain      Step = "drain"       // the journal says draining; kioskd not yet asked
	StepDrained    Step = "drained"     // kioskd drained
	StepSwitch     Step = "switch"      // the new symlink exists, not yet renamed over current
	StepSwitched   Step = "switched"    // current points at the new release
	StepRestarted  Step = "restarted"   // the restart command returned
	StepConfirmed  Step = "confirmed"   // the new release answered healthy; journal not yet done
	StepRollback   Step = "rollback"    // the journal says rolling_back; current still new
	StepRolledBack Step = "rolled-back" // current points at the old release again
)

// Defaults of Options.
const (
	DefaultHealthTimeout = 60 * time.Second
	DefaultPollInterval  = time.Second
	DefaultDrainTimeout  = 10 * time.Minute
	DefaultKeep          = 3
	// healthRequestTimeout bounds one GET /v1/health.
	healthRequestTimeout = 10 * time.Second
)

// Options configure Apply and Recover.
type Options struct {
	// Root holds releases/, current, previous and the journal (update.root).
	Root string
	// Keys are the minisign public keys a release may be signed with
	// (update.keys).
	Keys []string
	// Arch is the architecture a release must be built for; empty means
	// LocalArch.
	Arch string
	// AllowDowngrade lets an older release, or the installed one again, in.
	AllowDowngrade bool
	// Daemon is the running kioskd.
	Daemon Daemon
	// Restart restarts kioskd (update.restart_command).
	Restart func(context.Context) error
	// HealthTimeout is how long a release has to answer healthy.
	HealthTimeout time.Duration
	// PollInterval is the pause between two health requests.
	PollInterval time.Duration
	// DrainTimeout is how long to wait for a customer to finish.
	DrainTimeout time.Duration
	// Keep is how many releases stay on disk, current and previous included.
	Keep int
	// Clock times the drain and the health wait.
	Clock kiosk.Clock
	Log   *slog.Logger

	// hook runs at every Step; tests panic in it to play a power cut.
	hook func(Step)
}

func (o *Options) setDefaults() error {
	if !filepath.IsAbs(o.Root) {
		return fmt.Errorf("update root %q is not an absolute directory", o.Root)
	}
	o.Root = filepath.Clean(o.Root)
	if o.Arch == "" {
		o.Arch = LocalArch()
	}
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = DefaultHealthTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	if o.Keep < 2 {
		o.Keep = DefaultKeep
	}
	if o.Clock == nil {
		o.Clock = kiosk.SystemClock{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Daemon == nil || o.Restart == nil {
		return errors.New("update: Options.Daemon and Options.Restart are required")
	}
	return nil
}

func (o *Options) step(s Step) {
	if o.hook != nil {
		o.hook(s)
	}
}

// Result describes a successful update.
type Result struct {
	// From is the release current pointed at before; empty on a first install.
	From string
	To   string
	// Health is the new release's first healthy answer.
	Health Health
}

// Verify checks a release and its signature without installing anything:
// the signature against keys, then every file against the manifest.
func Verify(tarball, signature string, keys []string) (*Manifest, error) {
	pks, err := ParseKeys(keys)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(tarball)
	if err != nil {
		return nil, fmt.Errorf("open the release: %w", err)
	}
	defer f.Close()
	return verifyOpen(f, signature, pks)
}

func verifyOpen(f *os.File, signature string, keys []minisign.PublicKey) (*Manifest, error) {
	sig, err := readSignature(signature)
	if err != nil {
		return nil, err
	}
	if _, err := VerifySignature(f, sig, keys); err != nil {
		return nil, err
	}
	// Only now, with the bytes known to come from the fleet's key, is the
	// tarball parsed.
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return readRelease(f, "", nil, nil)
}

func readSignature(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: no signature file %s; copy the .minisig beside the tarball", ErrSignature, path)
		}
		return nil, fmt.Errorf("read the signature: %w", err)
	}
	defer f.Close()
	sig, err := io.ReadAll(io.LimitReader(f, maxSignatureSize+1))
	if err != nil {
		return nil, fmt.Errorf("read the signature: %w", err)
	}
	if len(sig) > maxSignatureSize {
		return nil, fmt.Errorf("%w: %s is too large to be a minisign signature", ErrSignature, path)
	}
	return sig, nil
}

// Apply installs the release tarball, signed by the minisign signature
// file beside it, and makes it current (see the package doc). It returns
// an error wrapping one of the package's Err values: ErrSignature,
// ErrManifest, ErrArch, ErrDowngrade and ErrInstalled refuse the update
// and leave the disk untouched; ErrLocked, ErrBusy, ErrRolledBack and
// ErrRollbackFailed come later.
//
// An update found unfinished in the journal is first rolled back (see
// Recover); applying the same tarball again redoes it.
func Apply(ctx context.Context, tarball, signature string, o Options) (*Result, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	keys, err := ParseKeys(o.Keys)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(tarball)
	if err != nil {
		return nil, fmt.Errorf("open the release: %w", err)
	}
	defer f.Close()
	m, err := verifyOpen(f, signature, keys)
	if err != nil {
		return nil, err
	}
	if m.Arch != o.Arch {
		return nil, fmt.Errorf("%w: the release is built for %s and this kiosk runs %s; take tolem-%s-linux-%s.tar.gz",
			ErrArch, m.Arch, o.Arch, m.Version, o.Arch)
	}

	// The lock is on the root itself; without a root there is nothing
	// installed to refuse against, and it is created only once accepted.
	unlock := func() {}
	defer func() { unlock() }()
	_, statErr := os.Stat(o.Root)
	rootExisted := statErr == nil
	lock := func() error {
		u, err := lockRoot(o.Root)
		if err == nil {
			unlock = u
		}
		return err
	}
	if rootExisted {
		if err := lock(); err != nil {
			return nil, err
		}
	}
	installed, j, err := installedVersion(&o)
	if err != nil {
		return nil, err
	}
	if err := checkVersion(m.Version, installed, o.AllowDowngrade); err != nil {
		return nil, err
	}
	if !rootExisted {
		if err := mkdirAllDurable(filepath.Join(o.Root, releasesDir), 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", o.Root, err)
		}
		if err := lock(); err != nil {
			return nil, err
		}
	}
	o.Log.Info("release verified", "version", m.Version, "arch", m.Arch, "installed", installed)
	return o.apply(ctx, f, m, j)
}

// installedVersion is the version an update is compared with: current's,
// or, while an update is unfinished, the one it started from (which is
// where recovery takes the kiosk back to).
func installedVersion(o *Options) (string, *Journal, error) {
	j, err := ReadJournal(o.Root)
	if err != nil {
		return "", nil, err
	}
	if j != nil && j.Unfinished() {
		return j.From, j, nil
	}
	cur, err := linkedVersion(o.Root, currentLink)
	if err != nil {
		// A broken current runs nothing: any signed release is an
		// improvement, so nothing is compared.
		o.Log.Warn("current release is broken; installing without a version check", "err", err)
		return "", j, nil
	}
	return cur, j, nil
}

func checkVersion(next, installed string, allowDowngrade bool) error {
	if installed == "" || allowDowngrade {
		return nil
	}
	c, err := CompareVersions(next, installed)
	if err != nil {
		return fmt.Errorf("%w: the installed version cannot be compared (%v); add --allow-downgrade to install %s anyway", ErrDowngrade, err, next)
	}
	switch {
	case c < 0:
		return fmt.Errorf("%w: %s is older than the installed %s; add --allow-downgrade to go back on purpose", ErrDowngrade, next, installed)
	case c == 0:
		return fmt.Errorf("%w: %s is installed and current; add --allow-downgrade to install it again", ErrInstalled, next)
	}
	return nil
}

// apply runs with the root locked and the release verified.
func (o *Options) apply(ctx context.Context, f *os.File, m *Manifest, j *Journal) (*Result, error) {
	if j != nil && j.Unfinished() {
		o.Log.Warn("an earlier update was interrupted; rolling it back first", "state", j.State, "from", j.From, "to", j.To)
		if _, err := o.recover(ctx, false); err != nil {
			return nil, err
		}
	}
	o.cleanStale()
	from, err := linkedVersion(o.Root, currentLink)
	if err != nil {
		from = ""
	}
	if err := o.install(f, m, from); err != nil {
		return nil, err
	}
	o.step(StepInstalled)

	now := o.Clock.Now().UTC()
	j = &Journal{State: StateDraining, From: from, To: m.Version, Started: now, Updated: now}
	if err := o.writeJournal(j); err != nil {
		return nil, err
	}
	o.step(StepDrain)
	if err := o.drain(ctx); err != nil {
		o.abort(ctx, j, err)
		return nil, err
	}
	o.step(StepDrained)

	j.State = StateSwitching
	if err := o.writeJournal(j); err != nil {
		o.abort(ctx, j, err)
		return nil, err
	}
	if from != "" && from != m.Version {
		if err := replaceSymlink(filepath.Join(o.Root, previousLink), relTarget(from), nil); err != nil {
			o.abort(ctx, j, err)
			return nil, err
		}
	}
	if err := replaceSymlink(filepath.Join(o.Root, currentLink), relTarget(m.Version), func() { o.step(StepSwitch) }); err != nil {
		o.abort(ctx, j, err)
		return nil, err
	}
	o.Log.Info("switched current", "from", from, "to", m.Version)

	j.State = StateSwitched
	reason := ""
	if err := o.writeJournal(j); err != nil {
		reason = err.Error()
	} else {
		o.step(StepSwitched)
		if err := o.Restart(ctx); err != nil {
			reason = fmt.Sprintf("restart: %v", err)
		} else {
			o.step(StepRestarted)
			h, err := o.waitHealthy(ctx, m.Version)
			if err == nil {
				o.step(StepConfirmed)
				o.prune(m.Version, from)
				o.finish(j, StateDone, "")
				o.Log.Info("update done", "from", from, "to", m.Version, "health", h.String())
				return &Result{From: from, To: m.Version, Health: h}, nil
			}
			reason = err.Error()
		}
	}
	return nil, o.rollback(ctx, j, reason)
}

// install puts the release into releases/<version>, through a temporary
// directory renamed into place once complete and synced: a power cut
// mid-unpack leaves only a hidden temporary directory, removed next time.
func (o *Options) install(f *os.File, m *Manifest, current string) error {
	dst := releasePath(o.Root, m.Version)
	if m.Version == current {
		// The running release is never replaced under the daemon: a
		// reinstall of it reuses the files when they are intact.
		if _, err := VerifyTree(dst); err != nil {
			return fmt.Errorf("%s is the running release and differs from this tarball (%v); install another version first, then this one", dst, err)
		}
		return nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	releases := filepath.Join(o.Root, releasesDir)
	if err := mkdirAllDurable(releases, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", releases, err)
	}
	tmp, err := os.MkdirTemp(releases, "."+m.Version+tmpMark+"*")
	if err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	first := true
	_, err = readRelease(f, tmp, func(again *Manifest) error {
		if !reflect.DeepEqual(again, m) {
			return fmt.Errorf("%w: the tarball changed while it was being read", ErrManifest)
		}
		return nil
	}, func() {
		if first {
			first = false
			o.step(StepUnpack)
		}
	})
	if err == nil {
		err = syncTree(tmp)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return err
	}
	o.step(StepUnpacked)
	var old string
	if _, err := os.Stat(dst); err == nil {
		// An earlier copy (say, of a release rolled back before): moved
		// aside, not deleted in place, so no half-deleted tree is ever
		// named like a release.
		old = tempName(dst + ".old")
		if err := os.Rename(dst, old); err != nil {
			os.RemoveAll(tmp)
			return fmt.Errorf("move the earlier %s aside: %w", dst, err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("unpack: %w", err)
	}
	if err := syncDir(releases); err != nil {
		return fmt.Errorf("unpack: %w", err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	o.Log.Info("release unpacked", "dir", dst)
	return nil
}

// syncTree makes a freshly written tree's directories durable and
// readable by the daemon's user (MkdirTemp creates 0700).
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return err
		}
		return syncDir(p)
	})
}

func (o *Options) drain(ctx context.Context) error {
	dctx, cancel := o.withClockTimeout(ctx, o.DrainTimeout)
	defer cancel(nil)
	o.Log.Info("asking kioskd to drain: waiting for any customer to finish", "timeout", o.DrainTimeout)
	err := o.Daemon.Drain(dctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNotRunning):
		o.Log.Warn("kioskd is not running, so no customer can be mid-session; going on", "err", err)
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("update interrupted while draining: %w", ctx.Err())
	case errors.Is(context.Cause(dctx), errTimedOut):
		return fmt.Errorf("%w: a customer was still mid-session after %s; nothing was switched, try again later", ErrBusy, o.DrainTimeout)
	}
	return fmt.Errorf("%w: %v; nothing was switched", ErrBusy, err)
}

var errTimedOut = errors.New("timed out")

// withClockTimeout is context.WithTimeout on the Options' clock, so that
// tests move time instead of waiting for it.
func (o *Options) withClockTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelCauseFunc) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := o.Clock.NewTimer(d)
	go func() {
		select {
		case <-t.C():
			cancel(errTimedOut)
		case <-ctx.Done():
			t.Stop()
		}
	}()
	return ctx, cancel
}

// waitHealthy polls the daemon until it answers healthy on version, or
// HealthTimeout passes.
func (o *Options) waitHealthy(ctx context.Context, version string) (Health, error) {
	deadline := o.Clock.NewTimer(o.HealthTimeout)
	defer deadline.Stop()
	last := "no answer"
	for {
		hctx, cancel := context.WithTimeout(ctx, healthRequestTimeout)
		h, err := o.Daemon.Health(hctx)
		cancel()
		switch {
		case err != nil:
			last = err.Error()
		case !h.Healthy:
			last = h.String()
		case h.Version != version:
			last = fmt.Sprintf("kioskd answers version %s, want %s (does update.restart_command restart it?)", h.Version, version)
		default:
			return h, nil
		}
		poll := o.Clock.NewTimer(o.PollInterval)
		select {
		case <-deadline.C():
			poll.Stop()
			return h, fmt.Errorf("%s not healthy within %s: %s", version, o.HealthTimeout, last)
		case <-ctx.Done():
			poll.Stop()
			return h, fmt.Errorf("interrupted while waiting for %s to be healthy (%s): %w", version, last, ctx.Err())
		case <-poll.C():
		}
	}
}

// abort ends an update that stopped before its switch: the daemon is let
// out of its drain, nothing else changed.
func (o *Options) abort(ctx context.Context, j *Journal, cause error) {
	o.finish(j, StateAborted, cause.Error())
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthRequestTimeout)
	defer cancel()
	if err := o.Daemon.Resume(rctx); err != nil && !errors.Is(err, ErrNotRunning) {
		o.Log.Warn("kioskd did not leave its drain; restart it (systemctl restart tolem)", "err", err)
	}
}

// rollback switches back to the release the update came from and checks
// that it is healthy again. It returns ErrRolledBack or ErrRollbackFailed.
func (o *Options) rollback(ctx context.Context, j *Journal, reason string) error {
	// An interrupt (Ctrl-C) must not stop a rollback half way.
	ctx = context.WithoutCancel(ctx)
	o.Log.Error("new release not healthy; rolling back", "from", j.To, "to", j.From, "reason", reason)
	j.State = StateRollingBack
	j.Reason = reason
	if err := o.writeJournal(j); err != nil {
		o.Log.Error("journal", "err", err)
	}
	o.step(StepRollback)
	failed := func(why string) error {
		o.finish(j, StateRollbackFailed, reason+"; "+why)
		return fmt.Errorf("%w: %s; then %s. A technician must look: kioskctl update status, journalctl -u tolem", ErrRollbackFailed, reason, why)
	}
	if j.From == "" || j.From == j.To || !releaseComplete(o.Root, j.From) {
		return failed(fmt.Sprintf("there is no earlier release to go back to, so %s stays current", j.To))
	}
	if err := replaceSymlink(filepath.Join(o.Root, currentLink), relTarget(j.From), nil); err != nil {
		return failed(fmt.Sprintf("switching back to %s failed: %v", j.From, err))
	}
	o.step(StepRolledBack)
	if err := o.Restart(ctx); err != nil {
		return failed(fmt.Sprintf("restarting %s failed: %v", j.From, err))
	}
	if _, err := o.waitHealthy(ctx, j.From); err != nil {
		return failed(fmt.Sprintf("the old release is not healthy either: %v", err))
	}
	o.finish(j, StateRolledBack, reason)
	o.Log.Warn("rolled back", "to", j.From)
	return fmt.Errorf("%w to %s: %s", ErrRolledBack, j.From, reason)
}

// Recover finishes an update the journal shows unfinished: the process
// died or the power went between its drain and its confirmation. Such an
// update was never seen healthy, so it counts as failed: current goes back
// to the release it came from (when it is there), and the journal says
// rolled_back or aborted. At boot (boot true; tolem-update-check.service,
// before kioskd starts) the daemon is left alone; otherwise it is
// restarted, or let out of its drain. Recover returns the journal it
// wrote, or nil when there was nothing to do.
func Recover(ctx context.Context, o Options, boot bool) (*Journal, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(o.Root); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	unlock, err := lockRoot(o.Root)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return o.recover(ctx, boot)
}

func (o *Options) recover(ctx context.Context, boot bool) (*Journal, error) {
	j, err := ReadJournal(o.Root)
	if err != nil || j == nil || !j.Unfinished() {
		return nil, err
	}
	was := j.State
	cur, _ := linkedVersion(o.Root, currentLink)
	state, what := StateAborted, fmt.Sprintf("%s stays current", cur)
	switch {
	case cur != j.To && was == StateRollingBack:
		// Cut after the switch back: the rollback is complete.
		state, what = StateRolledBack, fmt.Sprintf("rolled back to %s", cur)
	case cur != j.To:
		// Interrupted before the switch: current never moved.
	case j.From == "" || j.From == j.To || !releaseComplete(o.Root, j.From):
		what = fmt.Sprintf("kept %s: there is no earlier release to go back to", cur)
	default:
		if err := replaceSymlink(filepath.Join(o.Root, currentLink), relTarget(j.From), nil); err != nil {
			return nil, fmt.Errorf("roll back the interrupted update to %s: %w", j.From, err)
		}
		state, what = StateRolledBack, fmt.Sprintf("rolled back to %s", j.From)
	}
	j.Reason = fmt.Sprintf("interrupted while %s (power cut, reboot or killed); %s", was, what)
	o.finish(j, state, j.Reason)
	o.Log.Warn("an interrupted update was undone", "state", was, "from", j.From, "to", j.To, "outcome", what)
	if boot {
		return j, nil
	}
	if state == StateRolledBack {
		if err := o.Restart(context.WithoutCancel(ctx)); err != nil {
			return j, fmt.Errorf("rolled the interrupted update back to %s but could not restart kioskd: %w", j.From, err)
		}
	} else {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), healthRequestTimeout)
		defer cancel()
		if err := o.Daemon.Resume(rctx); err != nil && !errors.Is(err, ErrNotRunning) {
			o.Log.Warn("kioskd did not leave its drain; restart it (systemctl restart tolem)", "err", err)
		}
	}
	return j, nil
}

func (o *Options) writeJournal(j *Journal) error {
	j.Updated = o.Clock.Now().UTC()
	return writeJournal(o.Root, j)
}

// finish writes a final state; a failure to write it is logged, because
// current is already right and the next update overwrites the journal.
func (o *Options) finish(j *Journal, s State, reason string) {
	j.State = s
	j.Reason = reason
	if err := o.writeJournal(j); err != nil {
		o.Log.Error("could not record the end of the update", "state", s, "err", err)
	}
}

// cleanStale removes what an interrupted update left: hidden temporary
// directories and links.
func (o *Options) cleanStale() {
	for _, dir := range []string{o.Root, filepath.Join(o.Root, releasesDir)} {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if isStale(e.Name()) {
				p := filepath.Join(dir, e.Name())
				if err := os.RemoveAll(p); err != nil {
					o.Log.Warn("could not remove a leftover of an interrupted update", "path", p, "err", err)
				}
			}
		}
	}
}

// prune keeps Keep releases: current, previous, and the newest others.
func (o *Options) prune(current, previous string) {
	vs, err := listReleases(o.Root)
	if err != nil {
		o.Log.Warn("could not list releases to prune", "err", err)
		return
	}
	keep := map[string]bool{current: true}
	if previous != "" {
		keep[previous] = true
	}
	if p, err := linkedVersion(o.Root, previousLink); err == nil && p != "" {
		keep[p] = true
	}
	n := len(keep)
	for _, v := range vs {
		name := v.String()
		if keep[name] {
			continue
		}
		if n < o.Keep {
			n++
			continue
		}
		dir := releasePath(o.Root, name)
		// Renamed first, so that a power cut mid-delete leaves a leftover
		// and never a half release under a release's name.
		trash := tempName(dir + ".old")
		if err := os.Rename(dir, trash); err != nil {
			o.Log.Warn("could not prune a release", "version", name, "err", err)
			continue
		}
		if err := os.RemoveAll(trash); err != nil {
			o.Log.Warn("could not prune a release", "version", name, "err", err)
		}
		o.Log.Info("pruned an old release", "version", name)
	}
}
