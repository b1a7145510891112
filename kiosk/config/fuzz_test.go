package config

import (
	"os"
	"reflect"
	"testing"

	"go.yaml.in/yaml/v3"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, and a config
// it accepts must come back unchanged through YAML, so that what `config`
// prints is what the kiosk runs with. Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	if example, err := os.ReadFile(examplePath); err == nil {
		f.Add(example)
	}
	f.Add([]byte(minimal))
	f.Add([]byte(minimal + console("")))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			if c != nil {
				t.Fatal("Parse returned a Config with an error")
			}
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if _, err := c.MarshalRedacted(); err != nil {
			t.Fatalf("MarshalRedacted: %v", err)
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(c)): %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip changed the config:\n got %+v\nwant %+v\n%s", back, c, out)
		}
	})
}
