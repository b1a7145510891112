package printer

// cp866High maps CP866's upper half to Unicode, box drawing left out: a
// receipt has no use for it, and a line asking for one is drawn as raster.
var cp866High = map[rune]byte{
	'Ё': 0xF0, 'ё': 0xF1, 'Є': 0xF2, 'є': 0xF3, 'Ї': 0xF4, 'ї': 0xF5, 'Ў': 0xF6, 'ў': 0xF7,
	'°': 0xF8, '∙': 0xF9, '·': 0xFA, '√': 0xFB, '№': 0xFC, '¤': 0xFD, '■': 0xFE, '\u00a0': 0xFF,
}

// EncodeCP866 returns s in CP866, or ok false when s holds a character CP866
// lacks (the Kazakh letters, ₸) or a control character.
func EncodeCP866(s string) (out []byte, ok bool) {
	out = make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r >= 0x20 && r < 0x7F:
			out = append(out, byte(r))
		case r >= 'А' && r <= 'п':
			out = append(out, byte(0x80+r-'А'))
		case r >= 'р' && r <= 'я':
			out = append(out, byte(0xE0+r-'р'))
		default:
			b, found := cp866High[r]
			if !found {
				return nil, false
			}
			out = append(out, b)
		}
	}
	return out, true
}

// DecodeCP866 is EncodeCP866's inverse, for the emulator.
func DecodeCP866(b []byte) string {
	rs := make([]rune, 0, len(b))
	for _, c := range b {
		switch {
		case c < 0x80:
			rs = append(rs, rune(c))
		case c < 0xB0:
			rs = append(rs, 'А'+rune(c-0x80))
		case c >= 0xE0 && c < 0xF0:
			rs = append(rs, 'р'+rune(c-0xE0))
		default:
			r := '?'
			for k, v := range cp866High {
				if v == c {
					r = k
				}
			}
			rs = append(rs, r)
		}
	}
	return string(rs)
}
