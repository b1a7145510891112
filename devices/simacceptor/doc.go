// Package simacceptor is an in-process bill acceptor for `kioskd --sim`: it
// implements kiosk.Acceptor without any serial line, and takes "banknotes"
// from Insert (the terminal front panel's bill keys, the sim panel socket's
// BILL line, or a test).
//
// It behaves like a real validator where the kiosk's correctness depends on
// it: a bill waits in escrow until Stack or Return, and comes back by itself
// after 10 s; only enabled denominations are taken; and its state survives a
// kill. A bill that was told to STACK but whose stacked report never reached
// the kiosk is reported at the next power-up as being in the stacker, then
// stacked, exactly once, the way a CCNET device reports it after a power cut.
// Faults (jam, cassette removed) are injected by hand for tests and demos.
package simacceptor
