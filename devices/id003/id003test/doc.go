// Package id003test emulates a JCM bill acceptor speaking ID-003 on a real
// pseudo-terminal, so that the driver, the daemon's --sim mode and tests talk
// to it through the same serial code as to the hardware.
//
// The emulator answers the controller's frames as id003.md describes: STATUS
// REQUEST with the unit's status, ACK to operation commands, setting
// commands echoed, VERSION and CURRENCY ASSIGN, an escrow that gives the bill
// back (reject 0x79) unless STACK, RETURN or HOLD comes in time, and VEND
// VALID reported until the controller ACKs it. Where the notes say units
// differ, the emulator can go either way: silent, COMMUNICATION ERROR or
// INVALID COMMAND after a damaged frame; ACK or INVALID COMMAND to a repeated
// STACK; VEND VALID or nothing for the bill found in the stacker at power-up;
// coming out of INITIALIZE inhibited or enabled; settings taken while
// initialising or only after; a line that echoes the controller's bytes.
//
// Its controls play what happens in front of a kiosk: a customer inserting a
// bill or a fake, jams, the cash box pulled out or full, a failure, a power
// cut at any point of a bill's way, damaged and lost frames, a silent unit
// and a USB-serial adapter unplugged and plugged back.
//
// Power cuts can be aimed: PowerCutAt arms one for the next time a bill
// reaches an Instant of its way (drawn in, told in escrow, STACK
// acknowledged, half-way into the stacker, landed but VEND VALID untold,
// VEND VALID sent but not acknowledged), and runs a hook at that very moment
// so a test can kill the controller with it. The instants are numbered as
// the CCNET emulator's, so one table serves both. The unit keeps the bill
// where the mechanics had it: in the head it powers up with BILL IN
// ACCEPTOR and gives the bill back at RESET; half-way into the stacker, or in
// the cassette with its VEND VALID not acknowledged, it powers up with BILL IN
// STACKER and the bill stays in the cassette. Cassette is the unit's own
// count of the bills in its cassette: the physical truth a collection
// counts, against which the kiosk's ledger and the bank are checked.
//
// JCM's country code for tenge is not published; the emulator's default
// table uses KZTCountry, a made-up code, so that the driver's recognition of
// tenge by value is what the tests exercise.
//
// Time inside the emulator is the wall clock: it stands for the device's own
// mechanics, not for core logic.
package id003test
