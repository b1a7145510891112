package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type stamp time.Time

func (s stamp) LastActivity() time.Time { return time.Time(s) }

func TestCheckLoopsNamesTheHungLoop(t *testing.T) {
	ok := liveness{"flow", func(context.Context) error { return nil }}
	hung := liveness{"acceptor", staleAfter(stamp(time.Now().Add(-time.Minute)), 10*time.Second)}
	if err := checkLoops(context.Background(), []liveness{ok}, time.Second); err != nil {
		t.Errorf("healthy loops: %v", err)
	}
	err := checkLoops(context.Background(), []liveness{ok, hung}, time.Second)
	if err == nil || !strings.HasPrefix(err.Error(), "acceptor") {
		t.Errorf("hung acceptor loop: err = %v, want one naming the acceptor", err)
	}
	fresh := liveness{"acceptor", staleAfter(stamp(time.Now()), 10*time.Second)}
	if err := checkLoops(context.Background(), []liveness{fresh}, time.Second); err != nil {
		t.Errorf("a loop that just polled: %v", err)
	}
}

// The watchdog pings systemd while every loop proves progress, and stops the
// moment one hangs, so that systemd restarts the daemon.
func TestWatchdogStopsPingingWhenALoopHangs(t *testing.T) {
	dir := shortDir(t)
	sock := dir + "/notify"
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "300000")

	var hung atomic.Bool
	loops := []liveness{{"flow", func(context.Context) error {
		if hung.Load() {
			return errors.New("stuck")
		}
		return nil
	}}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { runWatchdog(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), loops); close(done) }()
	defer func() { cancel(); <-done }()

	buf := make([]byte, 256)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := conn.Read(buf)
	if err != nil || string(buf[:n]) != "WATCHDOG=1" {
		t.Fatalf("no watchdog ping while healthy: %q, %v", buf[:n], err)
	}
	hung.Store(true)
	// Let a ping already on its way arrive, then expect silence.
	conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	for {
		if _, err := conn.Read(buf); err != nil {
			break
		}
	}
	conn.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := conn.Read(buf); err == nil {
		t.Errorf("pinged %q while the flow loop was hung", buf[:n])
	}
}
