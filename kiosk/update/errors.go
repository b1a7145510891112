package update

import "errors"

// The kinds of failure a caller maps to an exit code; test them with
// errors.Is. Every error Apply returns wraps at most one of them.
var (
	// ErrSignature: the signature does not verify against any configured
	// key, or no key is configured.
	ErrSignature = errors.New("signature not valid")
	// ErrManifest: the tarball is damaged, truncated or does not match its
	// manifest.
	ErrManifest = errors.New("release not valid")
	// ErrArch: the release is built for another architecture.
	ErrArch = errors.New("release for another architecture")
	// ErrDowngrade: the release is older than the installed one.
	ErrDowngrade = errors.New("older than the installed release")
	// ErrInstalled: the release is the installed one.
	ErrInstalled = errors.New("release already installed")
	// ErrLocked: another update holds the root.
	ErrLocked = errors.New("another update is running")
	// ErrBusy: kioskd did not drain (a customer stayed mid-session past the
	// drain timeout, or it refused); nothing was switched.
	ErrBusy = errors.New("kiosk did not drain")
	// ErrRolledBack: the new release was not healthy in time; the old one
	// is current again and healthy.
	ErrRolledBack = errors.New("update rolled back")
	// ErrRollbackFailed: after a failed update the old release could not be
	// restored, or is not healthy either.
	ErrRollbackFailed = errors.New("rollback failed")
	// ErrNotRunning: kioskd's control socket does not answer at all.
	ErrNotRunning = errors.New("kioskd is not running")
)
