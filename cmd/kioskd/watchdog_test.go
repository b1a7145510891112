package main

import (
	"context"
	"strings"
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
