// Package receipt makes the kiosk's receipts (SPEC §8): the verification code
// the bank can check without asking the kiosk, the receipt's text in the
// customer's language fitted to the paper's columns, and the Service that
// prints each committed top-up's receipt once, tells the flow whether one can
// be printed, prints at start the receipt a power cut prevented, and prints
// audited copies on a technician's request.
//
// A receipt is never printed before its top-up is committed: a printer that
// fails mid-receipt costs paper, never money.
package receipt
