// Package simpanel is the simulated front panel of `panel.kind: sim` and of
// `kioskd --sim`: the kiosk's 4×20 display and keypad, without hardware.
//
// Two faces share it. Server is the unix socket of SPEC §5: every connected
// client gets each screen as a SCREEN line and may send KEY lines, so that
// tests and scripts drive the kiosk as a customer would. RunTerminal draws
// the same screen in a terminal and turns keystrokes into keys, with one key
// per banknote that feeds the simulated bill acceptor.
//
// Neither imports the acceptor: bills reach it through the BillFeeder
// interface, which kioskd fills with the simulator it runs.
package simpanel
