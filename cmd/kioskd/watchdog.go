package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// liveness is one loop the watchdog vouches for. It returns nil while the
// loop makes progress.
type liveness struct {
	name  string
	check func(ctx context.Context) error
}

// activityReporter is implemented by drivers whose poll loop stamps the time
// of its last exchange with the device; a loop that stopped polling is hung
// even if its goroutine still exists.
type activityReporter interface {
	LastActivity() time.Time
}

// notifyReady tells systemd (Type=notify) that the kiosk can serve. Outside
// systemd NOTIFY_SOCKET is unset and this does nothing.
func notifyReady(log *slog.Logger) {
	if ok, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		log.Warn("systemd notify READY failed", "err", err)
	} else if ok {
		log.Info("told systemd we are ready")
	}
}

// runWatchdog pings systemd's watchdog only while every loop proves it is
// alive. A hung loop stops the pings, and systemd restarts the daemon: a
// restart recovers everything from the ledger, a hang recovers nothing.
func runWatchdog(ctx context.Context, log *slog.Logger, loops []liveness) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil || interval <= 0 {
		return
	}
	tick := time.NewTicker(interval / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := checkLoops(ctx, loops, interval/3); err != nil {
			log.Error("watchdog: not pinging systemd; it will restart kioskd", "err", err)
			continue
		}
		daemon.SdNotify(false, daemon.SdNotifyWatchdog)
	}
}

func checkLoops(ctx context.Context, loops []liveness, budget time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	for _, l := range loops {
		if err := l.check(ctx); err != nil {
			return fmt.Errorf("%s: %w", l.name, err)
		}
	}
	return nil
}

// staleAfter turns a last-activity stamp into a liveness check.
func staleAfter(r activityReporter, max time.Duration) func(context.Context) error {
	return func(context.Context) error {
		if last := r.LastActivity(); !last.IsZero() && time.Since(last) > max {
			return fmt.Errorf("no progress for %s", time.Since(last).Round(time.Second))
		}
		return nil
	}
}
