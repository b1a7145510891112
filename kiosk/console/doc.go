// Package console is the technician's command set (SPEC §6) and its two
// doors: the serial console, a login prompt and a line editor on a raw tty,
// and Exec, which the daemon's control socket calls for kioskctl on SSH.
// Both run the same commands against one Backend, so a command behaves the
// same whichever way the technician came in, and every login, failure and
// command lands in the ledger's audit table under the technician's id.
//
// The package knows the kiosk only through Backend, written in the domain's
// types; the daemon adapts the ledger, the flow, the acceptor and the outbox
// to it. Time comes from kiosk.Clock (the idle logout, the lockout, the key
// test's 30 s), so tests advance a fake clock instead of sleeping.
//
// PINs are checked against bcrypt or argon2id hashes from the config; there
// is no shared PIN. After Options.LockoutAfter wrong PINs in a row the
// console refuses every login for Options.LockoutFor, and the lock is kept in
// the ledger's settings so that a restart (or a pulled plug) does not lift it.
package console
