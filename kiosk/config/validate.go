package config

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"tolem/kiosk"
)

// Validate reports every value out of range, each as a *Problem naming the
// key, joined with errors.Join. It reads bank.secret_file and bank.ca_file to
// check they are usable and touches nothing else.
func (c *Config) Validate() error { return c.problems().err() }

var terminalIDPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,32}$`)

// Serial speeds the drivers can set; anything else is a typo.
var baudRates = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200}

// maxSocketPath is the longest unix socket path Linux takes (sun_path less NUL).
const maxSocketPath = 107

// Bounds on the files Validate reads: a secret is a line, a CA bundle a few
// certificates; a path to a device or a huge file is a mistake.
const (
	maxSecretFile = 4 << 10
	maxCAFile     = 1 << 20
)

func (c *Config) problems() problems {
	var ps problems
	add := func(key, format string, args ...any) { ps.add(0, key, format, args...) }

	switch {
	case c.TerminalID == "":
		add("terminal_id", "required: the kiosk's id at the bank, e.g. KZ-ALA-0001")
	case !terminalIDPattern.MatchString(c.TerminalID):
		add("terminal_id", "got %q, want 1 to 32 letters, digits or '-', e.g. KZ-ALA-0001", c.TerminalID)
	}
	if c.DataDir == "" {
		add("data_dir", "required: the directory of the ledger, e.g. /var/lib/tolem")
	}

	c.checkBank(add)
	c.checkAcceptor(add)

	p := c.Panel
	oneOf(add, "panel.kind", p.Kind, PanelGPIO, PanelSim, PanelNone)
	if p.Kind == PanelSim {
		socketPath(add, "panel.socket", p.Socket, "/run/tolem/panel.sock")
	}
	oneOf(add, "panel.lang", p.Lang, "ru", "kk", "en")
	if p.Kind == PanelGPIO {
		if p.GPIO == nil {
			add("panel.gpio", "required with panel.kind gpio: the pins of the display, keypad, buttons, LED and door (see configs/kiosk.pi.yaml)")
		} else {
			if n := len(p.GPIO.Keypad.Rows); n != 4 {
				add("panel.gpio.keypad.rows", "got %d pins, want 4 (one per keypad row)", n)
			}
			if n := len(p.GPIO.Keypad.Cols); n != 3 {
				add("panel.gpio.keypad.cols", "got %d pins, want 3 (one per keypad column)", n)
			}
		}
	}

	if c.Console != nil {
		c.Console.check(add)
	}
	socketPath(add, "control.socket", c.Control.Socket, "/run/tolem/control.sock")

	l := c.Limits
	positiveMoney(add, "limits.max_amount", l.MaxAmount)
	if l.OfflineMaxCount < 1 {
		add("limits.offline_max_count", "got %d, want at least 1 (top-ups waiting unsent before cash-in stops)", l.OfflineMaxCount)
	}
	positiveMoney(add, "limits.offline_max_amount", l.OfflineMaxAmount)
	if len(l.PhonePrefixes) == 0 {
		add("limits.phone_prefixes", "empty; list the mobile prefixes to accept, e.g. [700, 701, 705, 707, 747, 771, 777]")
	}
	seen := map[int]bool{}
	for i, pfx := range l.PhonePrefixes {
		key := fmt.Sprintf("limits.phone_prefixes[%d]", i)
		switch {
		case pfx < 700 || pfx > 799:
			add(key, "got %d, want the three digits after +7 of a Kazakh mobile number, 700 to 799", pfx)
		case seen[pfx]:
			add(key, "%d is listed twice", pfx)
		}
		seen[pfx] = true
	}

	positive(add, "flow.phone_timeout", c.Flow.PhoneTimeout)
	positive(add, "flow.insert_timeout", c.Flow.InsertTimeout)
	positive(add, "flow.done_timeout", c.Flow.DoneTimeout)

	s := c.Sync
	positive(add, "sync.heartbeat_interval", s.HeartbeatInterval)
	positive(add, "sync.alarm_after", s.AlarmAfter)
	positive(add, "sync.max_backoff", s.MaxBackoff)
	positive(add, "sync.min_backoff", s.MinBackoff)
	positive(add, "sync.poll_after", s.PollAfter)
	if s.MinBackoff > s.MaxBackoff {
		add("sync.min_backoff", "got %s, more than sync.max_backoff %s; the first wait must not exceed the cap", s.MinBackoff, s.MaxBackoff)
	}
	if s.BatchSize < 1 || s.BatchSize > 100 {
		add("sync.batch_size", "got %d, want 1 to 100 (the bank takes at most 100 top-ups a batch)", s.BatchSize)
	}

	c.checkUpdate(add)

	oneOf(add, "log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf(add, "log.format", c.Log.Format, "text", "json")
	c.Metrics.check(add)
	return ps
}

type addFunc func(key, format string, args ...any)

func (c *Config) checkBank(add addFunc) {
	b := c.Bank
	if b.URL == "" {
		add("bank.url", "required: the bank API's base URL, e.g. https://api.bank.kz")
	} else if msg := checkBankURL(b.URL); msg != "" {
		add("bank.url", "%s", msg)
	}
	switch {
	case b.Secret != "" && b.SecretFile != "":
		add("bank.secret", "both bank.secret and bank.secret_file are set; keep one (secret_file keeps the secret out of this file)")
	case b.Secret == "" && b.SecretFile == "":
		add("bank.secret", "required: set bank.secret or bank.secret_file to the terminal's secret from the bank")
	case b.SecretFile != "":
		if _, err := readSecretFile(b.SecretFile); err != nil {
			add("bank.secret_file", "%v", err)
		}
	}
	if b.CAFile != "" {
		if err := checkCAFile(b.CAFile); err != nil {
			add("bank.ca_file", "%v", err)
		}
	}
	positive(add, "bank.timeout", b.Timeout)
	positive(add, "bank.lookup_timeout", b.LookupTimeout)
}

// checkBankURL allows plain http only to the loopback sandbox: on a real
// network the bank's answers must be authenticated by TLS.
func checkBankURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("not a URL: %v", err)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return fmt.Sprintf("got %q; plain http is allowed only to a loopback host (127.0.0.1, ::1, localhost), i.e. the bank sandbox; use https://", u.Redacted())
		}
	default:
		return fmt.Sprintf("got %q, want an https:// URL", u.Redacted())
	}
	switch {
	case u.Host == "" || u.Hostname() == "":
		return fmt.Sprintf("got %q; the URL names no host", u.Redacted())
	case u.User != nil:
		return "the URL holds credentials; the bank authenticates with bank.secret, remove them from the URL"
	case u.Port() != "" && !validPort(u.Port()):
		return fmt.Sprintf("got port %s in %q; a port is 1…65535 (or leave it out for https's 443)", u.Port(), u.Redacted())
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fmt.Sprintf("got %q, want a base URL without ?query or #fragment", u.Redacted())
	}
	return ""
}

func validPort(s string) bool {
	p, err := strconv.Atoi(s)
	return err == nil && p >= 1 && p <= 65535
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readBounded reads a regular file of at most limit bytes. Devices and FIFOs
// are refused because reading them could block the start forever.
func readBounded(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s is %d bytes, more than %d; is it the right file?", path, st.Size(), limit)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is more than %d bytes; is it the right file?", path, limit)
	}
	return data, nil
}

func readSecretFile(path string) ([]byte, error) {
	data, err := readPrivate(path, maxSecretFile)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimRight(data, "\r\n")
	if len(data) == 0 {
		return nil, fmt.Errorf("%s is empty; put the terminal's secret from the bank in it", path)
	}
	return data, nil
}

func checkCAFile(path string) error {
	data, err := readBounded(path, maxCAFile)
	if err != nil {
		return err
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return fmt.Errorf("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", path)
	}
	return nil
}

func (c *Config) checkAcceptor(add addFunc) {
	a := c.Acceptor
	if a.Protocol == "" {
		add("acceptor.protocol", "required: one of ccnet, id003, sim")
	} else {
		oneOf(add, "acceptor.protocol", a.Protocol, ProtocolCCNET, ProtocolID003, ProtocolSim)
	}
	if a.Port == "" && a.Protocol != ProtocolSim {
		add("acceptor.port", "required: the acceptor's serial device, e.g. /dev/ttyUSB0")
	}
	baud(add, "acceptor.baud", a.Baud)
	if a.CassetteCapacity < 1 || a.CassetteCapacity > 100000 {
		add("acceptor.cassette_capacity", "got %d, want the number of bills the drop cassette holds, 1 to 100000 (1000 for a standard CashCode cassette)", a.CassetteCapacity)
	}
	if len(a.Currencies) == 0 {
		add("acceptor.currencies", "empty; map the device's currency code to KZT, e.g. {KZT: KZT, KAZ: KZT}")
	}
	toKZT := false
	for _, code := range sortedKeys(a.Currencies) {
		iso := a.Currencies[code]
		key := "acceptor.currencies." + code
		if code == "" || strings.ContainsFunc(code, unicode.IsSpace) {
			add(key, "got device code %q, want the code the device's bill table reports, e.g. KAZ", code)
		}
		if !isISOCode(iso) {
			add(key, "got %q, want an ISO 4217 code such as KZT", iso)
		}
		toKZT = toKZT || iso == kiosk.Currency
	}
	if len(a.Currencies) > 0 && !toKZT {
		add("acceptor.currencies", "no code maps to KZT, so no bill would be taken; add e.g. KAZ: KZT")
	}
}

func isISOCode(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (con *Console) check(add addFunc) {
	if con.Port == "" {
		add("console.port", "required when console is present: the console's serial device, e.g. /dev/ttyAMA0 (remove the console section for no console)")
	}
	baud(add, "console.baud", con.Baud)
	var fromFile []Technician
	if con.TechniciansFile != "" {
		list, err := readTechniciansFile(con.TechniciansFile)
		if err != nil {
			add("console.technicians_file", "%v", err)
		}
		fromFile = list
	}
	if len(con.Technicians) == 0 && con.TechniciansFile == "" {
		add("console.technicians", "empty; list at least one technician (id and pin_hash) here or in console.technicians_file, else nobody can log in")
	}
	ids := map[string]string{}
	for i, t := range slices.Concat(con.Technicians, fromFile) {
		key, who := fmt.Sprintf("console.technicians[%d]", i), fmt.Sprintf("technician %d", i)
		if n := len(con.Technicians); i >= n {
			key = fmt.Sprintf("console.technicians_file: %s: [%d]", con.TechniciansFile, i-n)
			who = fmt.Sprintf("technician %d of %s", i-n, con.TechniciansFile)
		}
		switch {
		case t.ID == "":
			add(key+".id", "required: the id the technician types at ID:")
		case len(t.ID) > 32 || strings.ContainsFunc(t.ID, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) }):
			add(key+".id", "got %q, want at most 32 characters without spaces", t.ID)
		default:
			if first, dup := ids[t.ID]; dup {
				add(key+".id", "%q is also %s; every technician needs an own id", t.ID, first)
			}
			ids[t.ID] = who
		}
		if msg := checkPinHash(t.PinHash); msg != "" {
			add(key+".pin_hash", "%s", msg)
		}
	}
	positive(add, "console.idle_logout", con.IdleLogout)
	if con.LockoutAfter < 1 {
		add("console.lockout_after", "got %d, want at least 1 (wrong PINs before the console locks)", con.LockoutAfter)
	}
	positive(add, "console.lockout_for", con.LockoutFor)
}

var bcryptPattern = regexp.MustCompile(`^\$2[ab]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$`)

const pinHashHelp = "want a bcrypt ($2a$, $2b$) or argon2id ($argon2id$) hash of the PIN, never the PIN itself"

// checkPinHash recognises the two hash formats the console verifies. A hash
// truncated by a copy and paste is refused here rather than making its
// technician's every login fail. The hash itself is never echoed.
func checkPinHash(h string) string {
	switch {
	case h == "":
		return "required: " + pinHashHelp
	case strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$"):
		if !bcryptPattern.MatchString(h) {
			return "not a whole bcrypt hash ($2b$<cost 04-31>$ and 53 characters, 60 in all); copy it again"
		}
	case strings.HasPrefix(h, "$argon2id$"):
		// $argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>
		parts := strings.Split(h, "$")
		if len(parts) != 6 || !strings.HasPrefix(parts[2], "v=") || !strings.HasPrefix(parts[3], "m=") ||
			parts[4] == "" || parts[5] == "" {
			return "not a whole argon2id hash ($argon2id$v=19$m=…,t=…,p=…$salt$hash); copy it again"
		}
	default:
		return pinHashHelp
	}
	return ""
}

func (c *Config) checkUpdate(add addFunc) {
	u := c.Update
	if !filepath.IsAbs(u.Root) {
		add("update.root", "got %q, want an absolute directory, e.g. /opt/tolem", u.Root)
	}
	for i, k := range u.Keys {
		if !isMinisignKey(k) {
			add(fmt.Sprintf("update.keys[%d]", i), "not a minisign public key; want the base64 line of the .pub file (56 characters, starting RW)")
		}
	}
	if len(u.RestartCommand) == 0 || u.RestartCommand[0] == "" {
		add("update.restart_command", "want a command and its arguments, e.g. [systemctl, restart, tolem]")
	}
	positive(add, "update.health_timeout", u.HealthTimeout)
	if u.Keep < 2 {
		add("update.keep", "got %d, want at least 2, the current release and the one to roll back to", u.Keep)
	}
}

// isMinisignKey accepts what minisign writes to a .pub file: the base64 of
// "Ed", an 8-byte key id and a 32-byte Ed25519 key, optionally after the
// "untrusted comment:" line.
func isMinisignKey(s string) bool {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "untrusted comment:") {
		_, s, _ = strings.Cut(s, "\n")
		s = strings.TrimSpace(s)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return err == nil && len(b) == 42 && b[0] == 'E' && b[1] == 'd'
}

func oneOf(add addFunc, key, got string, allowed ...string) {
	if !slices.Contains(allowed, got) {
		add(key, "got %q, want one of %s", got, strings.Join(allowed, ", "))
	}
}

func positive(add addFunc, key string, d time.Duration) {
	if d <= 0 {
		add(key, "got %s, want a duration > 0 such as \"90s\"", d)
	}
}

func positiveMoney(add addFunc, key string, m kiosk.Money) {
	if m <= 0 {
		add(key, "got %d tiyn, want > 0 (money is in tiyn, 1 ₸ = 100 tiyn: 20000000 is 200 000 ₸)", int64(m))
	}
}

func baud(add addFunc, key string, b int) {
	if !slices.Contains(baudRates, b) {
		rates := make([]string, len(baudRates))
		for i, r := range baudRates {
			rates[i] = strconv.Itoa(r)
		}
		add(key, "got %d, want one of %s", b, strings.Join(rates, ", "))
	}
}

func socketPath(add addFunc, key, path, example string) {
	switch {
	case path == "":
		add(key, "required: the unix socket's path, e.g. %s", example)
	case len(path) > maxSocketPath:
		add(key, "got a path of %d bytes; a unix socket path holds at most %d", len(path), maxSocketPath)
	}
}

// BankSecret is the terminal's HMAC secret, from bank.secret or the file
// bank.secret_file names (its trailing newline dropped, as editors add one).
func (c *Config) BankSecret() ([]byte, error) {
	b := c.Bank
	switch {
	case b.Secret != "" && b.SecretFile != "":
		return nil, errors.New("config: bank.secret and bank.secret_file are both set; keep one")
	case b.Secret != "":
		return []byte(b.Secret), nil
	case b.SecretFile != "":
		s, err := readSecretFile(b.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("config: bank.secret_file: %w", err)
		}
		return s, nil
	}
	return nil, errors.New("config: bank.secret or bank.secret_file is required")
}
