// Package kiosk is the domain of the tolem cash-in kiosk: money, phone numbers,
// bills, top-ups, the customer flow's states, and the interfaces of every outside
// thing the kiosk talks to (bill acceptor, display, keys, ledger, bank, clock).
//
// It imports the standard library only, so that every other package can depend
// on it without dragging hardware, SQLite or HTTP along; a test enforces this.
package kiosk
