package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeMode writes a file and sets its mode exactly, whatever the umask.
func writeMode(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	path := writeFile(t, dir, name, content)
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// A bank secret file the kiosk's group or anyone else may read or write is
// refused, naming the file, its mode and the chmod that fixes it; only the
// owner's bits may be set.
func TestSecretFileMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		mode os.FileMode
		who  string
	}{
		{0o640, "its group can read it"},
		{0o660, "its group can read and write it"},
		{0o620, "its group can write it"},
		{0o604, "others can read it"},
		{0o644, "its group and others can read it"},
		{0o610, "its group can use it"},
	} {
		path := writeMode(t, dir, "bank.secret", "s3cret\n", tt.mode)
		_, err := Parse([]byte(idYAML + "bank: {url: https://b.kz, secret_file: " + path + "}\n" + acceptorYAML))
		ps := problemsOf(err)
		if len(ps) != 1 || ps[0].Key != "bank.secret_file" {
			t.Errorf("mode %04o: %v; want one problem on bank.secret_file", tt.mode, err)
			continue
		}
		msg := ps[0].Msg
		for _, want := range []string{path + " has mode 0" + octal(tt.mode), tt.who, "chmod 600 " + path} {
			if !strings.Contains(msg, want) {
				t.Errorf("mode %04o: %q does not say %q", tt.mode, msg, want)
			}
		}
		c := Default()
		c.Bank.SecretFile = path
		if _, err := c.BankSecret(); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Errorf("mode %04o: BankSecret = %v, want the refusal", tt.mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		path := writeMode(t, dir, "ok.secret", "s3cret\n", mode)
		c, err := Parse([]byte(idYAML + "bank: {url: https://b.kz, secret_file: " + path + "}\n" + acceptorYAML))
		if err != nil {
			t.Fatalf("mode %04o refused: %v", mode, err)
		}
		if s, err := c.BankSecret(); err != nil || string(s) != "s3cret" {
			t.Errorf("mode %04o: BankSecret = %q, %v", mode, s, err)
		}
	}
}

func octal(m os.FileMode) string {
	const digits = "01234567"
	p := m.Perm()
	return string([]byte{digits[p>>6&7], digits[p>>3&7], digits[p&7]})
}

// console.technicians_file keeps the PIN hashes out of the config file:
// its technicians join those of console.technicians, under the same checks,
// and the file must be private like the bank secret's.
func TestTechniciansFile(t *testing.T) {
	dir := t.TempDir()
	list := "# the kiosk's technicians\n- id: t02\n  pin_hash: \"" + goodBcrypt + "\"\n- {id: t03, pin_hash: \"" + goodArgon + "\"}\n"
	good := writeMode(t, dir, "technicians.yaml", list, 0o600)
	withFile := func(path, inline string) string {
		return minimal + "console:\n  port: /dev/ttyAMA0\n" + inline + "  technicians_file: " + path + "\n"
	}

	c, err := Parse([]byte(withFile(good, "")))
	if err != nil {
		t.Fatalf("a file alone: %v", err)
	}
	got, err := c.Console.Logins()
	if err != nil || len(got) != 2 || got[0].ID != "t02" || got[1].PinHash != goodArgon {
		t.Errorf("Logins = %+v, %v; want t02 and t03", got, err)
	}
	c, err = Parse([]byte(withFile(good, "  technicians:\n    - {id: t01, pin_hash: \""+goodBcrypt+"\"}\n")))
	if err != nil {
		t.Fatalf("inline and file: %v", err)
	}
	if got, _ := c.Console.Logins(); len(got) != 3 || got[0].ID != "t01" {
		t.Errorf("Logins = %+v, want t01 then the file's", got)
	}
	if r := c.Redacted(); r.Console.TechniciansFile != good || r.Console.Technicians[0].PinHash != "***" {
		t.Errorf("Redacted console = %+v", r.Console)
	}

	for _, tt := range []struct {
		name, content string
		mode          os.FileMode
		inline        string
		want          string
	}{
		{"group-readable", list, 0o640, "", "has mode 0640: its group can read it"},
		{"world-readable", list, 0o644, "", "chmod 600 "},
		{"empty", "# nobody yet\n", 0o600, "", "lists no technician"},
		{"not a list", "id: t01\n", 0o600, "", "want a list"},
		{"unknown key", "- {id: t01, pin: \"1234\"}\n", 0o600, "", "field pin not found"},
		{"bad hash", "- {id: t01, pin_hash: \"1234\"}\n", 0o600, "", "[0].pin_hash: want a bcrypt"},
		{"id also inline", "- {id: t01, pin_hash: \"" + goodBcrypt + "\"}\n", 0o600,
			"  technicians:\n    - {id: t01, pin_hash: \"" + goodBcrypt + "\"}\n", `"t01" is also technician 0`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeMode(t, dir, tt.name+".yaml", tt.content, tt.mode)
			_, err := Parse([]byte(withFile(path, tt.inline)))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "console.technicians_file") || !strings.Contains(err.Error(), path) {
				t.Errorf("Parse = %v; want console.technicians_file, %s and %q", err, path, tt.want)
			}
		})
	}
	if _, err := Parse([]byte(withFile(filepath.Join(dir, "nope.yaml"), ""))); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}
