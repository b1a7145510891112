package console

import (
	"context"
	"crypto/subtle"
	"fmt"
	"strconv"
	"time"
)

// Settings keys of the lockout. The ledger keeps them, so that pulling the
// plug does not reset the count of wrong PINs or lift a lock.
const (
	keyFailures    = "console.failed_pins"
	keyLockedUntil = "console.locked_until"
)

// lockState is the count of wrong PINs in a row and the end of the lock.
type lockState struct {
	failures int
	until    time.Time
}

// lockedError: the console is locked until a time.
type lockedError struct{ until time.Time }

func (e lockedError) Error() string {
	return fmt.Sprintf("console locked until %s after too many wrong PINs", e.until.UTC().Format("15:04 UTC"))
}

// wrongPINError: the id or the PIN was wrong; left more tries before the
// lock (0: the console is now locked).
type wrongPINError struct {
	left  int
	until time.Time
}

func (e wrongPINError) Error() string { return "wrong ID or PIN" }

// loadLock returns the lockout state: the ledger's, or what this process
// remembers when the ledger cannot be read (whichever is stricter when they
// disagree, since a failed write leaves the ledger behind).
func (c *Console) loadLock(ctx context.Context) lockState {
	c.mu.Lock()
	st := c.lock
	c.mu.Unlock()
	if v, ok, err := c.b.Setting(ctx, keyFailures); err == nil && ok {
		if n, err := strconv.Atoi(v); err == nil && n > st.failures {
			st.failures = n
		}
	}
	if v, ok, err := c.b.Setting(ctx, keyLockedUntil); err == nil && ok && v != "" {
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil && t.After(st.until) {
			st.until = t
		}
	}
	return st
}

func (c *Console) saveLock(ctx context.Context, st lockState) {
	c.mu.Lock()
	c.lock = st
	c.mu.Unlock()
	until := ""
	if !st.until.IsZero() {
		until = st.until.UTC().Format(time.RFC3339Nano)
	}
	err := c.b.SetSetting(ctx, keyFailures, strconv.Itoa(st.failures))
	if err == nil {
		err = c.b.SetSetting(ctx, keyLockedUntil, until)
	}
	if err != nil {
		c.log.Warn("console: lockout state not saved; it holds until kioskd restarts", "err", err)
	}
}

// lockedUntil returns the end of the lock, zero when the console is not
// locked. A lock that has run out is lifted here.
func (c *Console) lockedUntil(ctx context.Context) time.Time {
	st := c.loadLock(ctx)
	if st.until.IsZero() {
		return time.Time{}
	}
	if c.now().Before(st.until) {
		return st.until
	}
	c.saveLock(ctx, lockState{})
	c.log.Info("console lock ended")
	c.audit(ctx, "system", "console_unlocked", "the lock after wrong PINs ran out")
	return time.Time{}
}

// login checks id and pin. It returns the technician's id, or lockedError
// or wrongPINError. Every attempt is audited.
func (c *Console) login(ctx context.Context, id, pin string) (string, error) {
	actor := clean(id, 32)
	if until := c.lockedUntil(ctx); !until.IsZero() {
		c.audit(ctx, actor, "login_refused", "console locked until "+until.UTC().Format(time.RFC3339))
		return "", lockedError{until}
	}
	hash, known := "", false
	for _, t := range c.opts.Technicians {
		// Every id is compared, so the time taken does not tell which one
		// (or whether one) matched.
		if subtle.ConstantTimeCompare([]byte(t.ID), []byte(id)) == 1 && !known {
			hash, known = t.PinHash, true
		}
	}
	if !known {
		hash = dummyHash()
	}
	ok, err := VerifyPIN(hash, pin)
	if err != nil {
		c.log.Error("console: a technician's pin_hash cannot be checked; fix it in the config", "technician", actor, "err", err)
	}
	if ok && known {
		st := c.loadLock(ctx)
		if st.failures != 0 || !st.until.IsZero() {
			c.saveLock(ctx, lockState{})
		}
		c.audit(ctx, id, "login", "serial console")
		c.log.Info("technician logged in", "technician", id)
		return id, nil
	}

	st := c.loadLock(ctx)
	st.failures++
	left := c.opts.LockoutAfter - st.failures
	detail := fmt.Sprintf("wrong ID or PIN (%d of %d)", st.failures, c.opts.LockoutAfter)
	if !known {
		detail = fmt.Sprintf("unknown ID (%d of %d)", st.failures, c.opts.LockoutAfter)
	}
	if left <= 0 {
		st.until = c.now().Add(c.opts.LockoutFor)
		left = 0
	}
	c.saveLock(ctx, st)
	c.audit(ctx, actor, "login_failed", detail)
	c.log.Warn("console: login failed", "id", actor, "failures", st.failures)
	if left == 0 {
		c.audit(ctx, "system", "console_locked", fmt.Sprintf("%d wrong PINs; locked until %s", st.failures, st.until.UTC().Format(time.RFC3339)))
		c.log.Warn("console locked after wrong PINs", "until", st.until)
	}
	return "", wrongPINError{left: left, until: st.until}
}
