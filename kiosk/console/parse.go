package console

import (
	"errors"
	"strings"
)

// Limits of a command line.
const (
	maxLineBytes = 512
	maxArgs      = 16
)

// Errors of Parse.
var (
	ErrUnterminatedQuote = errors.New("a quote is not closed")
	ErrTrailingBackslash = errors.New("the line ends in a backslash")
	ErrTooLong           = errors.New("the line is too long")
	ErrTooManyArgs       = errors.New("too many words")
)

// Parse splits a command line into words as a shell does, without any
// expansion: blanks separate words; 'single quotes' keep everything
// literally; "double quotes" keep blanks, and a backslash in them escapes
// only " and \; outside quotes a backslash escapes the next character. A seal
// number with a space is typed as "AB 123".
func Parse(line string) ([]string, error) {
	if len(line) > maxLineBytes {
		return nil, ErrTooLong
	}
	var (
		args  []string
		word  strings.Builder
		inW   bool // a word has started (an empty "" is a word)
		quote byte
	)
	flush := func() error {
		if inW {
			if len(args) == maxArgs {
				return ErrTooManyArgs
			}
			args = append(args, word.String())
			word.Reset()
			inW = false
		}
		return nil
	}
	for i := 0; i < len(line); i++ {
		ch := line[i]
		switch quote {
		case '\'':
			if ch == '\'' {
				quote = 0
			} else {
				word.WriteByte(ch)
			}
			continue
		case '"':
			switch {
			case ch == '"':
				quote = 0
			case ch == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\'):
				i++
				word.WriteByte(line[i])
			default:
				word.WriteByte(ch)
			}
			continue
		}
		switch ch {
		case ' ', '\t':
			if err := flush(); err != nil {
				return nil, err
			}
		case '\'', '"':
			quote, inW = ch, true
		case '\\':
			if i+1 == len(line) {
				return nil, ErrTrailingBackslash
			}
			i++
			word.WriteByte(line[i])
			inW = true
		default:
			word.WriteByte(ch)
			inW = true
		}
	}
	if quote != 0 {
		return nil, ErrUnterminatedQuote
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return args, nil
}

// Quote joins words into a line that Parse splits back into the same words.
func Quote(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && !strings.ContainsAny(a, " \t'\"\\") {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
