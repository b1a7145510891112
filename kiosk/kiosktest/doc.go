// Package kiosktest holds in-memory fakes of the kiosk's outside things — a
// clock that tests advance, a bill acceptor the test drives, a ledger, a
// display, an indicator light and a wallet lookup — so that the flow and
// anything else built on package kiosk can be tested without hardware, SQLite,
// a bank or real time.
//
// Every fake is safe for use from several goroutines: the code under test
// runs its own goroutine while the test pushes events and reads records.
package kiosktest
