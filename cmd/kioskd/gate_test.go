package main

import (
	"testing"
	"time"

	"tolem/kiosk"
	"tolem/sync/outbox"
)

// The outbox is held from a payment's first key to its completion, and let
// go on the done screen, so the top-up just paid goes to the bank at once.
func TestPaymentHoldsTheOutbox(t *testing.T) {
	g := &outbox.Gate{}
	now := time.Now()
	for _, step := range []struct {
		state kiosk.State
		held  bool
	}{
		{kiosk.StateIdle, false},
		{kiosk.StateEnterPhone, true},
		{kiosk.StateConfirm, true},
		{kiosk.StateInsertCash, true},
		{kiosk.StateCompleting, true},
		{kiosk.StateDone, false},
		{kiosk.StateSelectService, true},
		{kiosk.StateEnterAccount, true},
		{kiosk.StateIdle, false},
		{kiosk.StateEnterReceipt, false},
		{kiosk.StateReceiptStatus, false},
		{kiosk.StateOutOfService, false},
		{kiosk.StateMaintenance, false},
	} {
		holdForPayment(g, step.state, now)
		if g.Held() != step.held {
			t.Errorf("in %s the outbox is held: %v, want %v", step.state, g.Held(), step.held)
		}
	}
}
