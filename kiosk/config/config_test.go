package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"tolem/kiosk"
)

// The four sections a kiosk cannot start without; every case builds on them.
const (
	idYAML       = "terminal_id: KZ-ALA-0001\ndata_dir: /var/lib/tolem\n"                   // lines 1-2
	bankYAML     = "bank:\n  url: https://bank.example.kz\n  secret: s3cret\n"              // lines 3-5
	acceptorYAML = "acceptor:\n  protocol: ccnet\n  port: /dev/ttyUSB0\n"                   // lines 6-8
	minimal      = idYAML + bankYAML + acceptorYAML                                         // extra keys start at line 9
	goodBcrypt   = "$2a$10$T4CbYz2bgRURpLtgTWfpVOVp4LrDzMcbie9WWVXOJMr0YsSCdOJ6S"           // matches no PIN
	goodArgon    = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA" // shape only
	goodKey      = "RWRu9O/ulBcRLPi1Pm35skaWfRY1eggqOJbvHOZupIMqjqGtBMC2BDOO"
)

func console(extra string) string {
	return "console:\n  port: /dev/ttyAMA0\n  technicians:\n    - {id: t01, pin_hash: \"" + goodBcrypt + "\"}\n" + extra
}

func TestMinimalFileStartsWithDefaults(t *testing.T) {
	c, err := Parse([]byte(minimal))
	if err != nil {
		t.Fatalf("Parse(minimal): %v", err)
	}
	want := Default()
	want.TerminalID = "KZ-ALA-0001"
	want.DataDir = "/var/lib/tolem"
	want.Bank.URL = "https://bank.example.kz"
	want.Bank.Secret = "s3cret"
	want.Acceptor.Protocol = ProtocolCCNET
	want.Acceptor.Port = "/dev/ttyUSB0"
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("minimal config:\n got %+v\nwant %+v", c, want)
	}
	// The defaults SPEC §1 and §4 name.
	if c.Console != nil {
		t.Error("a file without console must run without a console")
	}
	if c.Limits.MaxAmount != kiosk.Tenge(200_000) || c.Limits.OfflineMaxCount != 500 || c.Limits.OfflineMaxAmount != kiosk.Tenge(5_000_000) {
		t.Errorf("limits = %+v", c.Limits)
	}
	if !reflect.DeepEqual(c.Limits.PhonePrefixes, kiosk.DefaultPhonePrefixes) {
		t.Errorf("phone_prefixes = %v", c.Limits.PhonePrefixes)
	}
	if c.Flow.PhoneTimeout != 60*time.Second || c.Flow.InsertTimeout != 90*time.Second || c.Bank.LookupTimeout != 5*time.Second {
		t.Errorf("timeouts = %+v, lookup %v", c.Flow, c.Bank.LookupTimeout)
	}
	if c.Panel.Language() != kiosk.LangRU || c.Log.SlogLevel().String() != "INFO" {
		t.Errorf("panel lang %v, log level %v", c.Panel.Language(), c.Log.SlogLevel())
	}
}

func TestDefaultIsNotShared(t *testing.T) {
	a := Default()
	a.Limits.PhonePrefixes[0] = 999
	a.Acceptor.Currencies["USD"] = "USD"
	if Default().Limits.PhonePrefixes[0] != 700 || kiosk.DefaultPhonePrefixes[0] != 700 {
		t.Fatal("changing one Default changed the next one or kiosk.DefaultPhonePrefixes")
	}
	if _, ok := Default().Acceptor.Currencies["USD"]; ok {
		t.Fatal("Default shares its currencies map")
	}
}

func TestParseGood(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, c *Config)
	}{
		{"sim acceptor needs no port",
			idYAML + bankYAML + "acceptor: {protocol: sim}\n",
			func(t *testing.T, c *Config) {
				if c.Acceptor.Protocol != ProtocolSim || c.Acceptor.Port != "" {
					t.Errorf("acceptor = %+v", c.Acceptor)
				}
			}},
		{"http to 127.0.0.1 sandbox",
			idYAML + "bank: {url: \"http://127.0.0.1:8080\", secret: x}\n" + acceptorYAML, nil},
		{"http to another 127/8 address",
			idYAML + "bank: {url: \"http://127.3.2.1/v1\", secret: x}\n" + acceptorYAML, nil},
		{"http to ::1",
			idYAML + "bank: {url: \"http://[::1]:9000\", secret: x}\n" + acceptorYAML, nil},
		{"http to localhost",
			idYAML + "bank: {url: \"http://LocalHost:9000\", secret: x}\n" + acceptorYAML, nil},
		{"console section gets console defaults",
			minimal + console(""),
			func(t *testing.T, c *Config) {
				want := DefaultConsole()
				want.Port = "/dev/ttyAMA0"
				want.Technicians = []Technician{{ID: "t01", PinHash: goodBcrypt}}
				if !reflect.DeepEqual(c.Console, want) {
					t.Errorf("console = %+v, want %+v", c.Console, want)
				}
			}},
		{"argon2id and bcrypt $2b$ hashes",
			minimal + "console:\n  port: /dev/ttyS0\n  technicians:\n    - {id: a, pin_hash: \"" + goodArgon + "\"}\n    - {id: b, pin_hash: \"$2b$" + goodBcrypt[4:] + "\"}\n",
			func(t *testing.T, c *Config) {
				if len(c.Console.Technicians) != 2 {
					t.Errorf("technicians = %+v", c.Console.Technicians)
				}
			}},
		{"empty value keeps the default",
			minimal + "panel:\n  lang:\n  kind: ~\nconsole:\n",
			func(t *testing.T, c *Config) {
				if c.Panel != Default().Panel || c.Console != nil {
					t.Errorf("panel = %+v, console = %+v", c.Panel, c.Console)
				}
			}},
		{"currencies replace the default map",
			idYAML + bankYAML + "acceptor:\n  protocol: id003\n  port: /dev/ttyS1\n  currencies: {KZT: KZT}\n",
			func(t *testing.T, c *Config) {
				if !reflect.DeepEqual(c.Acceptor.Currencies, map[string]string{"KZT": "KZT"}) {
					t.Errorf("currencies = %v", c.Acceptor.Currencies)
				}
			}},
		{"money with underscores, durations with units",
			minimal + "limits: {max_amount: 10_000_000, phone_prefixes: [777]}\nflow: {insert_timeout: 2m, done_timeout: 1500ms}\n",
			func(t *testing.T, c *Config) {
				if c.Limits.MaxAmount != kiosk.Tenge(100_000) || c.Flow.InsertTimeout != 2*time.Minute || c.Flow.DoneTimeout != 1500*time.Millisecond {
					t.Errorf("limits %+v flow %+v", c.Limits, c.Flow)
				}
				if !reflect.DeepEqual(c.Limits.PhonePrefixes, []int{777}) {
					t.Errorf("phone_prefixes = %v", c.Limits.PhonePrefixes)
				}
			}},
		{"anchors and aliases",
			minimal + "flow: {phone_timeout: &t 45s, insert_timeout: *t}\n",
			func(t *testing.T, c *Config) {
				if c.Flow.InsertTimeout != 45*time.Second {
					t.Errorf("insert_timeout = %v", c.Flow.InsertTimeout)
				}
			}},
		{"escrow off, json logs at debug, gpio panel in kazakh",
			idYAML + bankYAML + "acceptor: {protocol: ccnet, port: /dev/ttyUSB0, escrow_hold: false, baud: 19200}\nlog: {level: debug, format: json}\npanel: {kind: gpio, lang: kk, socket: \"\", gpio: {keypad: {rows: [GPIO5, GPIO6, GPIO13, GPIO19], cols: [GPIO26, GPIO16, GPIO20]}}}\n",
			func(t *testing.T, c *Config) {
				if c.Acceptor.EscrowHold || c.Acceptor.Baud != 19200 || c.Log.SlogLevel().String() != "DEBUG" || c.Panel.Language() != kiosk.LangKK {
					t.Errorf("acceptor %+v log %+v panel %+v", c.Acceptor, c.Log, c.Panel)
				}
			}},
		{"update keys, with or without the comment line",
			minimal + "update:\n  keys:\n    - " + goodKey + "\n    - |\n      untrusted comment: minisign public key 1\n      " + goodKey + "\n  restart_command: [/bin/systemctl, restart, tolem.service]\n  keep: 2\n",
			func(t *testing.T, c *Config) {
				if len(c.Update.Keys) != 2 || c.Update.Keep != 2 {
					t.Errorf("update = %+v", c.Update)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse:\n%s\nerror: %v", tt.yaml, err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestParseBad(t *testing.T) {
	dir := t.TempDir()
	emptySecret := writeFile(t, dir, "empty.secret", "\n")
	notPEM := writeFile(t, dir, "ca.pem", "not a certificate\n")
	secret := writeFile(t, dir, "bank.secret", "s3cret\n")

	withBank := func(bank string) string { return idYAML + "bank: " + bank + "\n" + acceptorYAML }
	withAcceptor := func(acc string) string { return idYAML + bankYAML + "acceptor: " + acc + "\n" }

	tests := []struct {
		name string
		yaml string
		want []string // substrings of the error, each of one problem
	}{
		// Unknown keys, at every depth, with line and what is allowed.
		{"unknown top-level key", minimal + "limts:\n  max_amount: 1\n",
			[]string{`config: line 9: unknown key "limts" (allowed at top level: terminal_id, data_dir, bank, acceptor, panel, console, control, limits, flow, sync, update, log, metrics, printer; did you mean "limits"?)`}},
		{"unknown key in a section", idYAML + "bank:\n  url: https://b.kz\n  secret: x\n  secrett: y\n" + acceptorYAML,
			[]string{`line 6: unknown key "bank.secrett" (allowed in bank: url, secret, secret_file, ca_file, timeout, lookup_timeout; did you mean "secret"?)`}},
		{"unknown key in a list item", minimal + "console:\n  port: /dev/ttyS0\n  technicians:\n    - id: t01\n      pin: \"1234\"\n",
			[]string{`line 13: unknown key "console.technicians[0].pin" (allowed in console.technicians[0]: id, pin_hash; did you mean "pin_hash"?)`}},
		{"key in the wrong section", minimal + "max_amount: 100\nport: /dev/x\n",
			[]string{`line 9: unknown key "max_amount"`, `did you mean limits.max_amount?`, `line 10: unknown key "port"`, `did you mean acceptor.port or console.port or printer.port?`}},
		{"duplicate key", minimal + "log: {level: info}\nlog: {level: debug}\n",
			[]string{`line 10: log: appears twice (first at line 9)`}},
		{"merge key", minimal + "flow: {<<: {phone_timeout: 5s}}\n",
			[]string{`line 9: flow: merge keys (<<) are not supported`}},

		// Wrong types name the key, what was given and what is wanted.
		{"word for a number", withAcceptor("{protocol: ccnet, port: /dev/ttyUSB0, baud: fast}"),
			[]string{`line 6: acceptor.baud: got "fast", want a whole number`}},
		{"fraction of a tiyn", minimal + "limits: {max_amount: 1.5}\n",
			[]string{`line 9: limits.max_amount: got "1.5", want a whole number of tiyn`}},
		{"float exponent for money", minimal + "limits: {offline_max_amount: 5e8}\n",
			[]string{`limits.offline_max_amount: got "5e8", want a whole number of tiyn`}},
		{"duration without unit", minimal + "flow: {insert_timeout: 90}\n",
			[]string{`line 9: flow.insert_timeout: got "90", want a duration such as "90s", "5m" or "1h30m" (a number needs a unit: "90s")`}},
		{"bad duration", minimal + "sync: {max_backoff: five minutes}\n",
			[]string{`sync.max_backoff: got "five minutes", want a duration`}},
		{"word for a bool", withAcceptor("{protocol: ccnet, port: /dev/ttyUSB0, escrow_hold: maybe}"),
			[]string{`acceptor.escrow_hold: got "maybe", want true or false`}},
		{"scalar for a section", idYAML + "bank: https://b.kz\n" + acceptorYAML,
			[]string{`line 3: bank: got "https://b.kz", want a mapping of keys (url, secret, secret_file, ca_file, timeout, lookup_timeout)`}},
		{"scalar for a list", minimal + "limits: {phone_prefixes: 700}\n",
			[]string{`limits.phone_prefixes: got "700", want a list of whole numbers`}},
		{"bad list element", minimal + "limits:\n  phone_prefixes:\n    - 700\n    - abc\n",
			[]string{`line 12: limits.phone_prefixes[1]: got "abc", want a whole number`}},
		{"mapping for a string", minimal + "control: {socket: {path: /run/x}}\n",
			[]string{`control.socket: got a mapping, want a string`}},
		{"mapping for the technician list", minimal + "console: {port: /dev/ttyS0, technicians: {id: t01}}\n",
			[]string{`console.technicians: got a mapping, want a list of mappings of keys (id, pin_hash)`}},
		{"list for the file", "- terminal_id: x\n",
			[]string{`config: line 1: got a list, want a mapping of keys (terminal_id, data_dir,`}},

		// Required keys.
		{"empty file", "",
			[]string{"terminal_id: required", "data_dir: required", "bank.url: required", "bank.secret: required", "acceptor.protocol: required", "acceptor.port: required"}},
		{"no secret", withBank("{url: https://b.kz}"),
			[]string{`line 3: bank.secret: required: set bank.secret or bank.secret_file`}},
		{"both secrets", withBank("{url: https://b.kz, secret: x, secret_file: " + secret + "}"),
			[]string{`bank.secret: both bank.secret and bank.secret_file are set; keep one`}},

		// Bad values.
		{"terminal id with spaces", "terminal_id: KZ ALA 1\ndata_dir: /d\n" + bankYAML + acceptorYAML,
			[]string{`line 1: terminal_id: got "KZ ALA 1", want 1 to 32 letters, digits or '-'`}},
		{"terminal id too long", "terminal_id: " + strings.Repeat("A", 33) + "\ndata_dir: /d\n" + bankYAML + acceptorYAML,
			[]string{`terminal_id: got "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"`}},
		{"http to the network", withBank(`{url: "http://10.0.0.5:8080", secret: x}`),
			[]string{`bank.url: got "http://10.0.0.5:8080"; plain http is allowed only to a loopback host`}},
		{"http to a name that is not localhost", withBank(`{url: "http://localhost.evil.kz", secret: x}`),
			[]string{`plain http is allowed only to a loopback host`}},
		{"other scheme", withBank(`{url: "ftp://b.kz", secret: x}`),
			[]string{`bank.url: got "ftp://b.kz", want an https:// URL`}},
		{"no scheme", withBank(`{url: "b.kz/api", secret: x}`),
			[]string{`bank.url: got "b.kz/api", want an https:// URL`}},
		{"credentials in the url are not echoed", withBank(`{url: "https://u:hunter2@b.kz", secret: x}`),
			[]string{`bank.url: the URL holds credentials`}},
		{"port out of range", withBank(`{url: "https://b.kz:99999", secret: x}`),
			[]string{`bank.url: got port 99999 in "https://b.kz:99999"; a port is 1…65535 (or leave it out for https's 443)`}},
		{"port zero", withBank(`{url: "https://b.kz:0/api", secret: x}`),
			[]string{`bank.url: got port 0 in "https://b.kz:0/api"; a port is 1…65535`}},
		{"query in the url", withBank(`{url: "https://b.kz/?a=1", secret: x}`),
			[]string{`want a base URL without ?query or #fragment`}},
		{"missing secret file", withBank("{url: https://b.kz, secret_file: " + filepath.Join(dir, "nope") + "}"),
			[]string{`bank.secret_file: stat ` + filepath.Join(dir, "nope") + `: no such file or directory`}},
		{"empty secret file", withBank("{url: https://b.kz, secret_file: " + emptySecret + "}"),
			[]string{`bank.secret_file: ` + emptySecret + ` is empty`}},
		{"secret file is a directory", withBank("{url: https://b.kz, secret_file: " + dir + "}"),
			[]string{`bank.secret_file: ` + dir + ` is not a regular file`}},
		{"missing ca file", withBank("{url: https://b.kz, secret: x, ca_file: /nonexistent/ca.pem}"),
			[]string{`bank.ca_file: stat /nonexistent/ca.pem: no such file or directory`}},
		{"ca file without certificate", withBank("{url: https://b.kz, secret: x, ca_file: " + notPEM + "}"),
			[]string{`bank.ca_file: ` + notPEM + ` holds no PEM certificate`}},
		{"zero and negative timeouts", withBank("{url: https://b.kz, secret: x, timeout: 0s, lookup_timeout: -5s}"),
			[]string{`bank.timeout: got 0s, want a duration > 0`, `bank.lookup_timeout: got -5s, want a duration > 0`}},
		{"unknown protocol", withAcceptor("{protocol: mdb, port: /dev/ttyUSB0}"),
			[]string{`acceptor.protocol: got "mdb", want one of ccnet, id003, sim`}},
		{"serial acceptor without port", withAcceptor("{protocol: id003}"),
			[]string{`acceptor.port: required: the acceptor's serial device`}},
		{"odd baud rate", withAcceptor("{protocol: ccnet, port: /dev/ttyUSB0, baud: 9601}"),
			[]string{`acceptor.baud: got 9601, want one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200`}},
		{"no currencies", withAcceptor("{protocol: ccnet, port: /dev/ttyUSB0, currencies: {}}"),
			[]string{`acceptor.currencies: empty`}},
		{"bad currency code", withAcceptor("{protocol: ccnet, port: /dev/ttyUSB0, currencies: {KAZ: tenge, KZT: KZT}}"),
			[]string{`acceptor.currencies.KAZ: got "tenge", want an ISO 4217 code`}},
		{"nothing maps to KZT", withAcceptor("{protocol: ccnet, port: /dev/ttyUSB0, currencies: {USA: USD}}"),
			[]string{`acceptor.currencies: no code maps to KZT`}},
		{"panel kind and lang", minimal + "panel: {kind: lcd, lang: de}\n",
			[]string{`panel.kind: got "lcd", want one of gpio, sim, none`, `panel.lang: got "de", want one of ru, kk, en`}},
		{"sim panel without socket", minimal + "panel: {kind: sim, socket: \"\"}\n",
			[]string{`panel.socket: required`}},
		{"console without port or technicians", minimal + "console: {baud: 115200}\n",
			[]string{`console.port: required when console is present`, `console.technicians: empty`}},
		{"console bad values", minimal + console("  baud: 0\n  idle_logout: 0s\n  lockout_after: 0\n  lockout_for: -1m\n"),
			[]string{`console.baud: got 0`, `console.idle_logout: got 0s`, `console.lockout_after: got 0, want at least 1`, `console.lockout_for: got -1m0s`}},
		{"technician problems", minimal + "console:\n  port: /dev/ttyS0\n  technicians:\n" +
			"    - {id: t01, pin_hash: \"" + goodBcrypt + "\"}\n" +
			"    - {id: t01, pin_hash: \"" + goodBcrypt + "\"}\n" +
			"    - {id: \"\", pin_hash: \"1234\"}\n" +
			"    - {id: a b, pin_hash: \"" + goodBcrypt[:40] + "\"}\n" +
			"    - {id: c, pin_hash: \"$argon2id$v=19$m=65536\"}\n" +
			"    - {id: d}\n",
			[]string{
				`line 13: console.technicians[1].id: "t01" is also technician 0`,
				`line 14: console.technicians[2].id: required`,
				`line 14: console.technicians[2].pin_hash: want a bcrypt ($2a$, $2b$) or argon2id ($argon2id$) hash of the PIN, never the PIN itself`,
				`line 15: console.technicians[3].id: got "a b", want at most 32 characters without spaces`,
				`line 15: console.technicians[3].pin_hash: not a whole bcrypt hash`,
				`line 16: console.technicians[4].pin_hash: not a whole argon2id hash`,
				`line 17: console.technicians[5].pin_hash: required`,
			}},
		{"control socket too long", minimal + "control: {socket: /run/" + strings.Repeat("x", 110) + "}\n",
			[]string{`control.socket: got a path of 115 bytes; a unix socket path holds at most 107`}},
		{"limits out of range", minimal + "limits: {max_amount: 0, offline_max_count: 0, offline_max_amount: -100}\n",
			[]string{`line 9: limits.max_amount: got 0 tiyn, want > 0 (money is in tiyn`, `limits.offline_max_count: got 0, want at least 1`, `limits.offline_max_amount: got -100 tiyn`}},
		{"phone prefixes", minimal + "limits: {phone_prefixes: [700, 800, 70, 700]}\n",
			[]string{`limits.phone_prefixes[1]: got 800, want the three digits after +7`, `limits.phone_prefixes[2]: got 70,`, `limits.phone_prefixes[3]: 700 is listed twice`}},
		{"no phone prefixes", minimal + "limits: {phone_prefixes: []}\n",
			[]string{`limits.phone_prefixes: empty`}},
		{"flow timeouts", minimal + "flow: {phone_timeout: 0s, insert_timeout: 0s, done_timeout: 0s}\n",
			[]string{`flow.phone_timeout: got 0s`, `flow.insert_timeout: got 0s`, `flow.done_timeout: got 0s`}},
		{"sync values", minimal + "sync: {heartbeat_interval: 0s, alarm_after: 0s, max_backoff: 0s, batch_size: 101}\n",
			[]string{`sync.heartbeat_interval: got 0s`, `sync.alarm_after: got 0s`, `sync.max_backoff: got 0s`, `sync.batch_size: got 101, want 1 to 100`}},
		{"zero batch", minimal + "sync: {batch_size: 0}\n",
			[]string{`sync.batch_size: got 0, want 1 to 100`}},
		{"update values", minimal + "update: {root: opt/tolem, keys: [RWQnotakey], restart_command: [], health_timeout: 0s, keep: 1}\n",
			[]string{`update.root: got "opt/tolem", want an absolute directory`, `update.keys[0]: not a minisign public key`, `update.restart_command: want a command`, `update.health_timeout: got 0s`, `update.keep: got 1, want at least 2`}},
		{"log values", minimal + "log: {level: verbose, format: xml}\n",
			[]string{`log.level: got "verbose", want one of debug, info, warn, error`, `log.format: got "xml", want one of text, json`}},

		// Syntax.
		{"tab indentation", minimal + "log:\n\tlevel: info\n",
			[]string{`config: line 10: not valid YAML:`}},
		{"unclosed flow mapping", minimal + "log: {level: info\n",
			[]string{`not valid YAML:`}},
		{"second document", minimal + "---\nterminal_id: other\n",
			[]string{`config: line 9: a second YAML document starts here`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse accepted:\n%s", tt.yaml)
			}
			if c != nil {
				t.Error("Parse returned a Config with an error")
			}
			msg := err.Error()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
			for _, secret := range []string{"s3cret", "hunter2", goodBcrypt} {
				if strings.Contains(msg, secret) {
					t.Errorf("error shows a secret %q:\n%s", secret, msg)
				}
			}
		})
	}
}

func problemsOf(err error) []*Problem {
	var out []*Problem
	var walk func(error)
	walk = func(err error) {
		if p, ok := err.(*Problem); ok {
			out = append(out, p)
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

func TestAllProblemsAtOnceInFileOrder(t *testing.T) {
	data := "terminal_id: x y\nbank: {url: \"http://10.1.1.1\"}\nlimts: {}\nacceptor: {protocol: ccnet, baud: 1}\n"
	_, err := Parse([]byte(data))
	ps := problemsOf(err)
	var got []string
	for _, p := range ps {
		got = append(got, p.Key)
	}
	// Missing keys first (no line), then top to bottom.
	want := []string{"data_dir", "terminal_id", "bank.url", "bank.secret", "", "acceptor.port", "acceptor.baud"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("problem keys = %q, want %q\n%v", got, want, err)
	}
	lines := []int{0, 1, 2, 2, 3, 4, 4}
	for i, p := range ps {
		if p.Line != lines[i] {
			t.Errorf("%s: line %d, want %d", p.Key, p.Line, lines[i])
		}
	}
}

func TestBadValueIsNotReportedTwice(t *testing.T) {
	_, err := Parse([]byte(minimal + "limits: {phone_prefixes: [700, abc]}\nbank2: 1\n"))
	if n := strings.Count(err.Error(), "phone_prefixes[1]"); n != 1 {
		t.Fatalf("phone_prefixes[1] reported %d times:\n%v", n, err)
	}
}

func TestValidateConfigBuiltInCode(t *testing.T) {
	c := Default()
	if err := c.Validate(); err == nil {
		t.Fatal("Default alone validated; it lacks terminal_id, data_dir, bank and acceptor")
	}
	c.TerminalID, c.DataDir = "SIM-1", t.TempDir()
	c.Bank.URL, c.Bank.Secret = "http://127.0.0.1:18080", "sandbox"
	c.Acceptor.Protocol, c.Acceptor.Port = ProtocolCCNET, "/dev/pts/7"
	c.Console = DefaultConsole()
	c.Console.Port = "/dev/pts/8"
	c.Console.Technicians = []Technician{{ID: "t01", PinHash: goodArgon}}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	c.Limits.MaxAmount = 0
	err := c.Validate()
	if err == nil || err.Error() != "config: limits.max_amount: got 0 tiyn, want > 0 (money is in tiyn, 1 ₸ = 100 tiyn: 20000000 is 200 000 ₸)" {
		t.Fatalf("Validate = %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	t.Run("missing file names the path and the flag", func(t *testing.T) {
		path := filepath.Join(dir, "kiosk.yaml")
		_, err := Load(path)
		if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "--config") {
			t.Fatalf("Load(missing) = %v", err)
		}
	})
	t.Run("problems name the file", func(t *testing.T) {
		path := writeFile(t, dir, "bad.yaml", minimal+"limts: 1\n")
		_, err := Load(path)
		want := "config " + path + `: line 9: unknown key "limts"`
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("Load = %v, want prefix %q", err, want)
		}
	})
	t.Run("good file", func(t *testing.T) {
		path := writeFile(t, dir, "good.yaml", minimal)
		c, err := Load(path)
		if err != nil || c.TerminalID != "KZ-ALA-0001" {
			t.Fatalf("Load = %+v, %v", c, err)
		}
	})
	t.Run("huge file", func(t *testing.T) {
		path := writeFile(t, dir, "huge.yaml", minimal+"#"+strings.Repeat("x", maxFileSize)+"\n")
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Fatalf("Load(huge) = %v", err)
		}
	})
}

func TestBankSecret(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, secret, file, content string
		want                        string
		wantErr                     string
	}{
		{name: "inline", secret: "abc def", want: "abc def"},
		{name: "file with newline", file: "s1", content: "from-file\n", want: "from-file"},
		{name: "file with CRLF", file: "s2", content: "from-file\r\n", want: "from-file"},
		{name: "file without newline", file: "s3", content: " spaced ", want: " spaced "},
		{name: "empty file", file: "s4", content: "\n\n", wantErr: "is empty"},
		{name: "missing file", file: "nope", wantErr: "no such file"},
		{name: "none", wantErr: "required"},
		{name: "both", secret: "x", file: "s5", content: "y", wantErr: "both set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			c.Bank.Secret = tt.secret
			if tt.file != "" {
				c.Bank.SecretFile = filepath.Join(dir, tt.file)
				if tt.content != "" {
					writeFile(t, dir, tt.file, tt.content)
				}
			}
			got, err := c.BankSecret()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("BankSecret = %q, %v; want error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("BankSecret = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestRedactedHidesSecrets(t *testing.T) {
	c, err := Parse([]byte(minimal + console("")))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redacted()
	if r.Bank.Secret != "***" || r.Console.Technicians[0].PinHash != "***" {
		t.Fatalf("Redacted = %+v %+v", r.Bank, r.Console.Technicians)
	}
	if c.Bank.Secret != "s3cret" || c.Console.Technicians[0].PinHash != goodBcrypt {
		t.Fatal("Redacted changed the running config")
	}
	r.Limits.PhonePrefixes[0] = 0
	r.Acceptor.Currencies["X"] = "Y"
	if c.Limits.PhonePrefixes[0] != 700 || len(c.Acceptor.Currencies) != 2 {
		t.Fatal("Redacted shares slices or maps with the running config")
	}

	y, err := c.MarshalRedacted()
	if err != nil {
		t.Fatal(err)
	}
	j, err := c.MarshalRedactedJSON()
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string][]byte{"yaml": y, "json": j} {
		s := string(out)
		if strings.Contains(s, "s3cret") || strings.Contains(s, goodBcrypt) || !strings.Contains(s, "***") {
			t.Errorf("%s shows a secret or no ***:\n%s", name, s)
		}
	}
	var tree struct {
		Flow    map[string]string `json:"flow"`
		Console struct {
			Technicians []map[string]string `json:"technicians"`
		} `json:"console"`
	}
	if err := json.Unmarshal(j, &tree); err != nil {
		t.Fatalf("json: %v\n%s", err, j)
	}
	if tree.Flow["insert_timeout"] != "1m30s" || tree.Console.Technicians[0]["id"] != "t01" {
		t.Errorf("json = %s", j)
	}

	// A secret from a file is not in the config; the path is shown as is.
	c.Bank.Secret, c.Bank.SecretFile = "", "/etc/tolem/bank.secret"
	if r := c.Redacted(); r.Bank.Secret != "" || r.Bank.SecretFile != "/etc/tolem/bank.secret" {
		t.Errorf("Redacted with secret_file = %+v", r.Bank)
	}
}

func TestRedactedYAMLParsesBack(t *testing.T) {
	c, err := Parse([]byte(minimal + console("")))
	if err != nil {
		t.Fatal(err)
	}
	y, err := c.MarshalRedacted()
	if err != nil {
		t.Fatal(err)
	}
	// "***" is no PIN hash, so only that key may fail.
	_, err = Parse(y)
	ps := problemsOf(err)
	if len(ps) != 1 || ps[0].Key != "console.technicians[0].pin_hash" {
		t.Fatalf("Parse(MarshalRedacted) = %v", err)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
