package config

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const examplePath = "../../configs/kiosk.example.yaml"

// loadExample loads the example config with its secret files, which exist
// only on a kiosk, replaced by private copies in a temp dir.
func loadExample(t *testing.T) *Config {
	t.Helper()
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secret := writeFile(t, dir, "bank.secret", "placeholder\n")
	techs, err := os.ReadFile("../../configs/technicians.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	techFile := writeFile(t, dir, "technicians.yaml", string(techs))
	text := strings.NewReplacer("/etc/tolem/bank.secret", secret, "/etc/tolem/technicians.yaml", techFile).Replace(string(data))
	c, err := Parse([]byte(text))
	if err != nil {
		t.Fatalf("the example config does not load:\n%v", err)
	}
	if _, err := c.Console.Logins(); err != nil {
		t.Fatalf("the example technicians file: %v", err)
	}
	c.Bank.SecretFile = "/etc/tolem/bank.secret"
	c.Console.TechniciansFile = "/etc/tolem/technicians.yaml"
	return c
}

func TestExampleParses(t *testing.T) {
	c := loadExample(t)
	// The example shows the defaults; only what has none, and the console
	// that is off by default, differ.
	want := Default()
	want.TerminalID, want.DataDir = c.TerminalID, c.DataDir
	want.Bank.URL, want.Bank.SecretFile = c.Bank.URL, c.Bank.SecretFile
	want.Acceptor.Protocol, want.Acceptor.Port = c.Acceptor.Protocol, c.Acceptor.Port
	want.Update.Keys = c.Update.Keys
	want.Panel.GPIO = c.Panel.GPIO
	wantConsole := DefaultConsole()
	wantConsole.Port, wantConsole.TechniciansFile = c.Console.Port, c.Console.TechniciansFile
	wantConsole.Technicians = []Technician{}
	want.Console = wantConsole
	if !reflect.DeepEqual(c, want) {
		t.Errorf("the example's values differ from the defaults:\n got %+v\nwant %+v", c, want)
	}
}

// TestExampleDocumentsEveryKey keeps the example complete: a key added to
// Config without its line (and comment) in the example fails here.
func TestExampleDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	inExample := map[string]*yaml.Node{}
	exampleKeys(doc.Content[0], "", inExample)

	var keys []string
	structKeys(reflect.TypeOf(Config{}), "", &keys)
	if len(keys) < 50 {
		t.Fatalf("found only %d keys in Config: %v", len(keys), keys)
	}
	for _, k := range keys {
		n, ok := inExample[k]
		switch {
		case !ok && slices.Contains(listItemKeys, k) && inExample[strings.SplitN(k, "[]", 2)[0]] != nil:
			// An empty list in the example: its comment shows an entry.
		case !ok:
			t.Errorf("key %s is missing from %s", k, examplePath)
		case n.HeadComment == "" && n.LineComment == "" && !slices.Contains(listItemKeys, k):
			t.Errorf("key %s has no comment in %s", k, examplePath)
		}
	}
}

// The keys of a list item are explained by the comment above the list.
var listItemKeys = []string{"console.technicians[].id", "console.technicians[].pin_hash"}

// structKeys lists every key path of t: sections and their keys.
func structKeys(t reflect.Type, path string, out *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		p := joinPath(path, keyName(f))
		*out = append(*out, p)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case ft.Kind() == reflect.Struct:
			structKeys(ft, p, out)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			structKeys(ft.Elem(), p+"[]", out)
		}
	}
}

// exampleKeys maps every key path in the YAML tree to its key node.
func exampleKeys(n *yaml.Node, path string, out map[string]*yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := joinPath(path, n.Content[i].Value)
			out[p] = n.Content[i]
			exampleKeys(n.Content[i+1], p, out)
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			exampleKeys(item, path+"[]", out)
		}
	}
}
