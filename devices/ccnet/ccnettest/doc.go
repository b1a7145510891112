// Package ccnettest emulates a CashCode bill validator speaking CCNET on a real
// pseudo-terminal, so that the driver, the daemon's --sim mode and tests talk
// to it through the same serial code as to the hardware.
//
// The emulator answers the controller's frames with the wire protocol of
// ccnet.md: POLL with the device's state, ACK, NAK to damaged frames, ILLEGAL
// COMMAND where the document says so, a 10 s escrow limit extended by HOLD, a
// bill table and an identification. Its controls play what happens in front of
// a kiosk: a customer inserting a bill or a fake, a jam, the cassette pulled out
// or full, a power cut with a bill in the head or half-way into the stacker,
// line noise, a silent device and a USB-serial adapter unplugged and plugged
// back.
//
// Power cuts can be aimed: PowerCutAt arms one for the next time a bill
// reaches an Instant of its way (drawn in, told in escrow, STACK acknowledged,
// half-way into the cassette, landed but untold, STACKED sent but not
// acknowledged), and runs a hook at that very moment so a test can kill the
// controller with it. The unit loses every event the controller had not
// acknowledged and keeps the bill where the mechanics had it. Cassette is the
// unit's own count of the bills in its cassette: the physical truth a
// collection counts, against which the kiosk's ledger and the bank are
// checked.
//
// Time inside the emulator is the wall clock: it stands for the device's own
// mechanics, not for core logic.
package ccnettest
