// Package id003 drives a JCM bill acceptor (iVIZION, UBA, WBA) over ID-003,
// JCM's serial protocol (9600 8E1, no address), as a kiosk.Acceptor.
//
// The protocol facts it follows, with their sources, are in id003.md of the
// project's shared notes; the frame layer (SYNC 0xFC, whole-frame LNG,
// CRC-16/KERMIT, a decoder that re-synchronises after noise) is usable on its
// own and is shared with the emulator in id003test.
//
// The driver is the controller. Every 150 ms it sends STATUS REQUEST and
// takes the one answer that fits the request: the same byte means different
// things each way (0x11 is STATUS REQUEST and IDLING), so a line that echoes
// the controller's bytes is recognised and its echo skipped. ID-003 has no
// NAK: a damaged or missing answer is asked for again after 500 ms, at once
// after COMMUNICATION ERROR. Start-up follows the notes: STATUS REQUEST
// (power-up state), RESET, the settings while or after the unit initialises
// (inhibit, denominations, security, polling mode, directions, optional
// functions, inhibit again), VERSION and CURRENCY ASSIGN, then EventPowerUp
// and EventReady. Denominations come from the unit's own table; only those
// of tenge are ever enabled.
//
// Escrow is how a bill reaches the flow: EventEscrow once per bill, then the
// flow's Stack (STACK-1) or Return. While the flow has not decided, the
// driver sends HOLD every 500 ms, so the unit never hands the bill back on
// its own timeout. The unit's ACK to STACK is EventStacking; VEND VALID is
// the credit: the driver ACKs it (every time the unit reports it, which it
// does until it hears the ACK) and reports EventStacked once. Returned and
// Rejected come once per bill as well. The last bill is remembered across
// reconnects, so a VEND VALID or STACKED the unit repeats after one is not a
// new bill.
//
// A unit that stops answering for 5 s, a read or write error, or a device
// node that vanished is reported as FaultDisconnected; the driver reopens
// the port with back-off from 0.5 s to 10 s, lets a bill in motion come to
// rest, initialises the unit again and reports EventPowerUp,
// EventFaultCleared and EventReady. After every initialisation the unit is
// inhibited until Enable is called again.
package id003
