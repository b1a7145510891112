// Package ccnet drives a CashCode bill validator over CCNET, the CashCode NET
// serial protocol (9600 8N1, address 0x03), as a kiosk.Acceptor.
//
// The protocol facts it follows, with their sources, are in ccnet.md of the
// project's shared notes; the frame layer (CRC-16/KERMIT, a decoder that
// re-synchronises after noise and ignores other addresses) is usable on its own
// and is shared with the emulator in ccnettest.
//
// The driver is the bus master. Every 150 ms it POLLs the unit, ACKs every
// intact answer and NAKs a damaged one before asking again (at most three
// times), keeping the 20 ms of silence the bus needs after each ACK or NAK.
// Start-up follows the document: flush stale input, POLL (power-up state),
// RESET, poll through INITIALIZE, GET STATUS, SET SECURITY, IDENTIFICATION and
// GET BILL TABLE, then EventPowerUp and EventReady. Denominations come from
// the unit's own table; a type whose country code does not map to tenge is
// never enabled.
//
// Escrow is how a bill reaches the flow: EventEscrow once per bill, then the
// flow's Stack or Return. While the flow has not decided, the driver sends
// HOLD every 5 s so that the unit never hands the bill back on its 10 s limit.
// Stacked and Returned events come exactly once per bill, whether the unit
// repeats an unacknowledged event or reports it once; if the event itself was
// lost to line noise, the state that follows tells how the bill ended.
//
// A unit that stops answering for 5 s, a read or write error, or a device node
// that vanished (USB-serial unplugged) is reported as FaultDisconnected; the
// driver reopens the port with back-off from 0.5 s to 10 s, initialises the
// unit again, and reports EventPowerUp, EventFaultCleared and EventReady. After
// every initialisation the unit is disabled until Enable is called again.
package ccnet
