// Package printer drives an ESC/POS receipt printer (Custom VKP80, Citizen
// PPU-700, Epson TM-T20/T88, Sewoo/Bixolon, Xprinter) on a serial port or a
// USB printer device (/dev/usb/lp0), as a kiosk.Printer.
//
// Text goes out in the printer's Cyrillic code page (CP866 by default). A line
// holding a character the code page lacks — the Kazakh letters ә ғ қ ң ө ұ ү
// һ і, the tenge sign — is drawn as a raster image with an embedded bitmap
// font instead (GNU Unifont's 8×16 glyphs, scaled to the printer's font cell),
// so that nothing is dropped or silently transliterated. The QR code goes out
// as the native GS ( k command, or as a raster image for a printer without
// it.
//
// Status comes from the real-time requests (DLE EOT 1–4): paper end, paper
// near end, cover open, cutter error, offline, and no answer at all. Print
// asks before it sends a receipt and after, so a receipt is reported printed
// only when the printer had paper throughout.
//
// font.hex is a subset of GNU Unifont 15.0.01 (© Roman Czyborra, Paul
// Hardy et al.), used under the SIL Open Font License 1.1.
package printer
