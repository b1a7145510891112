package main

import (
	"context"
	"io"
)

// outboxView is what the technician's doors read of the delivery loop.
type outboxView interface{}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// startOutbox starts the delivery of top-ups to the bank.
func startOutbox(ctx context.Context, w *wiring) (io.Closer, error) {
	return nopCloser{}, nil
}
