// Package hd44780 drives a 20×4 HD44780 character LCD (or a clone: KS0066,
// SPLC780, ST7066) in 4-bit mode, either on six GPIO lines or behind the
// PCF8574 I²C backpack soldered to most modules.
//
// R/W is tied low on both wirings (the backpack's P1 is never raised), so the
// busy flag is never read: the driver waits the datasheet's execution times
// instead, through an injected sleep function that tests replace.
//
// The driver keeps a shadow of the 80 cells and of the eight CGRAM patterns.
// A new screen rewrites only the cells that changed, sets the DDRAM address
// only where a run of changed cells does not follow on from the last write,
// and reloads only the CGRAM slots whose pattern is not already loaded. On the
// usual screen change (a typed digit) that is one address and one character:
// twelve bytes on the I²C bus instead of the ~500 of a full redraw.
//
// After any bus error the driver assumes nothing about the display: the next
// Show runs the whole initialisation again and redraws every cell, so a
// module that lost power or a loose backpack recovers by itself.
package hd44780
