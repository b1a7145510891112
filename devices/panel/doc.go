// Package panel is the kiosk's front panel on real hardware, through
// periph.io: a 20×4 HD44780 LCD (on six GPIO lines or a PCF8574 I²C
// backpack), a 3×4 matrix keypad, the OK, CANCEL, BACK and LANG buttons, the
// bezel LED that is lit while cash may go in, and the service-door switch.
//
// Open reads a GPIOConfig (the panel.gpio section of the config), finds its
// pins on the board and returns a Panel, which is the flow's kiosk.Display
// and kiosk.Indicator, delivers key presses on Keys and the door on Door,
// and offers the console a SelfTester.
//
// Inputs cost nothing while they rest. Every input line is set for edge
// detection and its goroutine sleeps in the kernel until an edge; only then
// is the line sampled, every debounce/5, until it has held still for the
// debounce time (30 ms). A bouncing contact thus gives one press, and a held
// key one press only.
//
// The keypad's rows are outputs and its columns inputs with the pull-up.
// While idle every row is driven low, so any key pulls its column low and
// wakes the scan; the scan then drives one row low at a time, the others
// released (never driven high), to find the key. Layout, seen from the
// front:
//
//	1 2 3      row 0
//	4 5 6      row 1
//	7 8 9      row 2
//	* 0 #      row 3    * is BACK, # is OK
//
// The buttons and the door switch close to ground; the inputs use the
// internal pull-up. Which level of the door means "open" is set by
// GPIOConfig.DoorOpenHigh.
//
// Character ROMs and the mapping of the Unicode screens to them are in the
// charrom package; the LCD driver is in hd44780.
package panel
