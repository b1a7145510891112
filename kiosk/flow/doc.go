// Package flow is the customer top-up state machine of the kiosk (SPEC §1):
// idle → enter_phone → lookup → confirm or confirm_offline → insert_cash →
// completing → done, with out_of_service and maintenance beside them.
//
// One goroutine, Run, owns the state. Everything that can change it — keys,
// acceptor events, the bank's answer to a wallet lookup, timer fires, external
// conditions, queue changes, maintenance requests — reaches that goroutine
// through one select loop. Each input is handled in two halves, as tailscale's
// ipnlocal does: derive the next state from the current one and the input,
// then enter it, which is where every side effect of a state lives (timers,
// the acceptor's enabled set, the bezel light, ledger sessions). Nothing else
// sets the state.
//
// Money safety rules the loop keeps: the acceptor is enabled only in
// insert_cash, and only for the denominations that still fit under the
// maximum; a bill is durably recorded in the ledger before the acceptor is
// told to stack it; a stacked bill is always recorded stacked, and a session
// whose money cannot be committed at once stays open until it can (a later
// ledger write, the acceptor's power-up report, or the next start's
// recovery), with the kiosk out of service meanwhile.
//
// Time comes only from kiosk.Clock, so every timeout is tested by advancing a
// fake clock.
package flow
