package console

import (
	"errors"
	"slices"
	"testing"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	tests := []struct {
		line string
		want []string
		err  error
	}{
		{"", nil, nil},
		{"   \t ", nil, nil},
		{"status", []string{"status"}, nil},
		{"  log   50  ", []string{"log", "50"}, nil},
		{"status --json", []string{"status", "--json"}, nil},
		{`collect --seal "AB 123"`, []string{"collect", "--seal", "AB 123"}, nil},
		{`collect --seal 'AB "7"'`, []string{"collect", "--seal", `AB "7"`}, nil},
		{`a "x\"y\\z\n"`, []string{"a", `x"y\z\n`}, nil},
		{`a\ b`, []string{"a b"}, nil},
		{`x "" ''`, []string{"x", "", ""}, nil},
		{`pre"mid"'post'`, []string{"premidpost"}, nil},
		{"сейф №5", []string{"сейф", "№5"}, nil},
		{`"open`, nil, ErrUnterminatedQuote},
		{`'open`, nil, ErrUnterminatedQuote},
		{`end\`, nil, ErrTrailingBackslash},
		{"a b c d e f g h i j k l m n o p q", nil, ErrTooManyArgs},
	}
	for _, tt := range tests {
		got, err := Parse(tt.line)
		if !errors.Is(err, tt.err) || !slices.Equal(got, tt.want) {
			t.Errorf("Parse(%q) = %q, %v; want %q, %v", tt.line, got, err, tt.want, tt.err)
		}
	}
	if _, err := Parse(string(make([]byte, maxLineBytes+1))); !errors.Is(err, ErrTooLong) {
		t.Errorf("a line over %d bytes: %v", maxLineBytes, err)
	}
}

// FuzzParse: no line makes Parse panic or hand back more than it allows,
// and whatever it splits, Quote joins into a line that splits the same.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"status --json", `collect --seal "AB 12"`, `a\ b 'c d' "e\"f"`, `"`, `x\`, "txn 42", "сейф"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args, err := Parse(line)
		if err != nil {
			if args != nil {
				t.Fatalf("Parse(%q) returned words %q with error %v", line, args, err)
			}
			return
		}
		if len(args) > maxArgs {
			t.Fatalf("Parse(%q) returned %d words, more than %d", line, len(args), maxArgs)
		}
		total := 0
		for _, a := range args {
			total += len(a)
		}
		if total > len(line) {
			t.Fatalf("Parse(%q) returned more bytes than it read: %q", line, args)
		}
		if utf8.ValidString(line) {
			for _, a := range args {
				if !utf8.ValidString(a) {
					t.Fatalf("Parse(%q) broke a character: %q", line, a)
				}
			}
		}
		again, err := Parse(Quote(args))
		if err != nil && !errors.Is(err, ErrTooLong) {
			t.Fatalf("Parse(Quote(%q)) = %v", args, err)
		}
		if err == nil && !slices.Equal(again, args) {
			t.Fatalf("Parse(Quote(%q)) = %q", args, again)
		}
	})
}
