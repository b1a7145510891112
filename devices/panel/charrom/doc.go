// Package charrom turns the kiosk's Unicode screens into the byte codes of an
// HD44780 character generator ROM.
//
// An HD44780 draws each cell from a fixed ROM table of 5×8 patterns, plus
// eight patterns the driver may load into CGRAM. Which ROM a module carries
// is decided at the factory and cannot be read back, so the config names it:
//
//   - a00, the Japanese ROM of most cheap modules: ASCII (with ¥ for the
//     backslash), half-width katakana and a few Greek letters. No Cyrillic.
//   - a02, the European ROM: ASCII, most of Latin-1, a few Greek letters and
//     the upper-case Cyrillic letters that differ from Latin (Б Д Ж З И Й Л П У
//     Ц Ч Ш Щ Ъ Ы Э Ю Я). No lower-case Cyrillic.
//   - cyrillic, the ROM of the modules sold in Russia and Kazakhstan (Winstar
//     WH2004A-…-CYR and its many clones): ASCII plus every Russian letter, upper
//     and lower case, that differs from Latin at 0xA0–0xC7 and 0xE0–0xE6.
//
// No ROM has the Kazakh letters (Ә Ғ Қ Ң Ө Ұ Ү and their lower case) nor the
// tenge sign ₸. Map gives them CGRAM patterns drawn here, chosen per screen.
// When a screen needs more than the eight CGRAM slots, Map degrades in steps,
// each readable: Kazakh letters and ё fall back to the nearest Russian letter
// (қ→к, ө→о); on a02 the Cyrillic text is shown in capitals, which that ROM
// has; as a last resort the Cyrillic text is transliterated to Latin, which
// every ROM has. A line never grows past 20 cells and no cell ever holds a
// code the ROM leaves blank.
//
// Cyrillic letters drawn exactly like Latin ones (А В Е К М Н О Р С Т Х, а е о
// р с у х, І і, Һ һ, Ү, Ь≈b) always use the Latin codes: they cost no slot.
//
// The ROM tables follow the Hitachi HD44780U datasheet (ADE-207-272, tables 4
// and 5, ROM codes A00 and A02) and, for the Cyrillic ROM, the Winstar
// "English/Russian" font table as used by LiquidCrystalRus and Marlin's
// HD44780 Cyrillic charset. Codes whose pattern differs between sources are
// left out of the tables rather than guessed.
package charrom
