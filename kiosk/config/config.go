package config

import (
	"log/slog"
	"slices"
	"time"

	"tolem/kiosk"
)

// Config is the whole kiosk configuration. The yaml tags are the keys of the
// file; configs/kiosk.example.yaml documents each of them.
type Config struct {
	// TerminalID is the kiosk's id at the bank (X-Terminal-Id).
	TerminalID string `yaml:"terminal_id"`
	// DataDir holds the SQLite ledger.
	DataDir  string   `yaml:"data_dir"`
	Bank     Bank     `yaml:"bank"`
	Acceptor Acceptor `yaml:"acceptor"`
	Panel    Panel    `yaml:"panel"`
	// Console is nil when the file has no console section: the kiosk then runs
	// without a serial technician console (kioskctl still works).
	Console *Console `yaml:"console,omitempty"`
	Control Control  `yaml:"control"`
	Limits  Limits   `yaml:"limits"`
	Flow    Flow     `yaml:"flow"`
	Sync    Sync     `yaml:"sync"`
	Update  Update   `yaml:"update"`
	Log     Log      `yaml:"log"`
	Metrics Metrics  `yaml:"metrics"`
}

// Bank is how the kiosk reaches the bank API (SPEC §2).
type Bank struct {
	// URL is the API's base URL: https, or http to a loopback host only.
	URL string `yaml:"url"`
	// Secret and SecretFile are the two exclusive ways to give the HMAC
	// secret; read it with Config.BankSecret.
	Secret     string `yaml:"secret,omitempty"`
	SecretFile string `yaml:"secret_file,omitempty"`
	// CAFile is a PEM bundle trusted instead of the system roots; empty for
	// the system roots.
	CAFile string `yaml:"ca_file,omitempty"`
	// Timeout bounds every request but the wallet lookup.
	Timeout time.Duration `yaml:"timeout"`
	// LookupTimeout bounds the wallet lookup, after which the customer takes
	// the offline path.
	LookupTimeout time.Duration `yaml:"lookup_timeout"`
}

// Acceptor protocols.
const (
	ProtocolCCNET = "ccnet"
	ProtocolID003 = "id003"
	ProtocolSim   = "sim"
)

// Acceptor is the bill acceptor on its serial port.
type Acceptor struct {
	Protocol string `yaml:"protocol"`
	// Port is the serial device; not needed by the in-process simulator.
	Port string `yaml:"port,omitempty"`
	Baud int    `yaml:"baud"`
	// Currencies maps the country or currency code in the device's bill table
	// to an ISO 4217 code; a bill whose code maps to anything but KZT is
	// never enabled.
	Currencies map[string]string `yaml:"currencies"`
	// EscrowHold keeps each bill in escrow until the kiosk says STACK or
	// RETURN; only a device without escrow runs with it off.
	EscrowHold bool `yaml:"escrow_hold"`
	// CassetteCapacity is how many bills the drop cassette holds; the console
	// warns at 90 % and the heartbeat reports it, so a full cassette is
	// emptied before it stops the kiosk.
	CassetteCapacity int `yaml:"cassette_capacity"`
}

// Panel kinds.
const (
	PanelGPIO = "gpio"
	PanelSim  = "sim"
	PanelNone = "none"
)

// Panel is the front panel: display, keypad and buttons.
type Panel struct {
	Kind string `yaml:"kind"`
	// Socket is the sim panel's unix socket (SPEC §5).
	Socket string `yaml:"socket"`
	// Lang is the language the attract screen starts in: ru, kk or en.
	Lang string `yaml:"lang"`
	// GPIO is the wiring of the hardware panel (kind gpio). Its pins are
	// checked against the board by kioskd at start, where the board is known.
	GPIO *GPIOPanel `yaml:"gpio"`
}

// GPIOPanel is the front panel on the board's pins, by periph.io names
// (GPIO17 or P1_11). It mirrors devices/panel's config, which kioskd fills
// from it: the config package may not import a driver.
type GPIOPanel struct {
	Display struct {
		Kind      string `yaml:"kind"` // pcf8574 | gpio4
		ROM       string `yaml:"rom"`  // a00 | a02 | cyrillic
		I2CBus    string `yaml:"i2c_bus"`
		I2CAddr   uint16 `yaml:"i2c_addr"`
		RS        string `yaml:"rs"`
		E         string `yaml:"e"`
		D4        string `yaml:"d4"`
		D5        string `yaml:"d5"`
		D6        string `yaml:"d6"`
		D7        string `yaml:"d7"`
		Backlight string `yaml:"backlight"`
	} `yaml:"display"`
	Keypad struct {
		Rows []string `yaml:"rows"`
		Cols []string `yaml:"cols"`
	} `yaml:"keypad"`
	Buttons struct {
		OK     string `yaml:"ok"`
		Cancel string `yaml:"cancel"`
		Back   string `yaml:"back"`
		Lang   string `yaml:"lang"`
	} `yaml:"buttons"`
	LED          string        `yaml:"led"`
	Door         string        `yaml:"door"`
	DoorOpenHigh bool          `yaml:"door_open_high"`
	Debounce     time.Duration `yaml:"debounce"`
}

// Language is Lang as a kiosk.Lang; Russian when Lang is not valid.
func (p Panel) Language() kiosk.Lang {
	l, _ := kiosk.ParseLang(p.Lang)
	return l
}

// Console is the technician console on a serial port (SPEC §6).
type Console struct {
	Port string `yaml:"port"`
	Baud int    `yaml:"baud"`
	// Technicians may log in; the PIN hashes of this list are in the
	// config file, which the kiosk's group reads.
	Technicians []Technician `yaml:"technicians"`
	// TechniciansFile names a YAML file with more technicians, in the same
	// form, of mode 0600 owned by the daemon's user: it keeps the PIN
	// hashes from the technicians who may read the config. Read with Logins.
	TechniciansFile string `yaml:"technicians_file,omitempty"`
	// IdleLogout logs a technician out after this long without input.
	IdleLogout time.Duration `yaml:"idle_logout"`
	// LockoutAfter wrong PINs in a row lock the console for LockoutFor.
	LockoutAfter int           `yaml:"lockout_after"`
	LockoutFor   time.Duration `yaml:"lockout_for"`
}

// Technician is one person who may log in at the console.
type Technician struct {
	ID string `yaml:"id"`
	// PinHash is a bcrypt ($2a$, $2b$) or argon2id ($argon2id$) hash of the PIN.
	PinHash string `yaml:"pin_hash"`
}

// Control is the local control socket kioskctl talks to.
type Control struct {
	Socket string `yaml:"socket"`
}

// Limits are the money limits of SPEC §1, in tiyn.
type Limits struct {
	// MaxAmount is the most one top-up may hold.
	MaxAmount kiosk.Money `yaml:"max_amount"`
	// OfflineMaxCount and OfflineMaxAmount stop cash-in while that many
	// top-ups, or that much money, wait unsent.
	OfflineMaxCount  int         `yaml:"offline_max_count"`
	OfflineMaxAmount kiosk.Money `yaml:"offline_max_amount"`
	// PhonePrefixes are the mobile prefixes (three digits after +7) accepted
	// on the screen.
	PhonePrefixes []int `yaml:"phone_prefixes,flow"`
}

// Flow holds the customer flow's timeouts (SPEC §1).
type Flow struct {
	PhoneTimeout  time.Duration `yaml:"phone_timeout"`
	InsertTimeout time.Duration `yaml:"insert_timeout"`
	DoneTimeout   time.Duration `yaml:"done_timeout"`
}

// Sync tunes the delivery of top-ups and heartbeats to the bank.
type Sync struct {
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// AlarmAfter is how long a top-up may stay unsent or pending before it
	// raises an alarm.
	AlarmAfter time.Duration `yaml:"alarm_after"`
	// MinBackoff is the ceiling of the first retry's wait; it doubles with
	// each failure up to MaxBackoff.
	MinBackoff time.Duration `yaml:"min_backoff"`
	// MaxBackoff caps the retry back-off.
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// PollAfter is the first wait before asking the bank about a pending
	// top-up; it doubles with each answer that is still pending.
	PollAfter time.Duration `yaml:"poll_after"`
	// BatchSize is the most top-ups sent in one batch request (the bank takes
	// at most 100).
	BatchSize int `yaml:"batch_size"`
}

// Update configures signed release updates (SPEC §7).
type Update struct {
	// Root holds the releases and the symlink to the current one.
	Root string `yaml:"root"`
	// Keys are the minisign public keys (the base64 line of a .pub file) a
	// release must be signed with; with none, every update is refused.
	Keys []string `yaml:"keys"`
	// RestartCommand restarts the daemon after a switch; argv, not a shell line.
	RestartCommand []string `yaml:"restart_command,flow"`
	// HealthTimeout is how long a new release has to report healthy before
	// it is rolled back.
	HealthTimeout time.Duration `yaml:"health_timeout"`
	// Keep is how many releases stay on disk, the current one included.
	Keep int `yaml:"keep"`
}

// Log configures the daemon's log/slog output.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

// SlogLevel is Level as a slog.Level; info when Level is not valid.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Default returns a Config with every default filled. terminal_id, data_dir,
// bank.url, the bank secret and acceptor.port have none and stay empty;
// Console is nil (no console), see DefaultConsole.
func Default() *Config {
	return &Config{
		Bank: Bank{
			Timeout:       15 * time.Second,
			LookupTimeout: 5 * time.Second,
		},
		Acceptor: Acceptor{
			Baud:             9600,
			Currencies:       map[string]string{"KZT": kiosk.Currency, "KAZ": kiosk.Currency},
			EscrowHold:       true,
			CassetteCapacity: 1000,
		},
		Panel: Panel{
			Kind:   PanelSim,
			Socket: "/run/tolem/panel.sock",
			Lang:   "ru",
		},
		Control: Control{Socket: "/run/tolem/control.sock"},
		Limits: Limits{
			MaxAmount:        kiosk.Tenge(200_000),
			OfflineMaxCount:  500,
			OfflineMaxAmount: kiosk.Tenge(5_000_000),
			PhonePrefixes:    slices.Clone(kiosk.DefaultPhonePrefixes),
		},
		Flow: Flow{
			PhoneTimeout:  60 * time.Second,
			InsertTimeout: 90 * time.Second,
			DoneTimeout:   10 * time.Second,
		},
		Sync: Sync{
			HeartbeatInterval: 60 * time.Second,
			AlarmAfter:        20 * time.Minute,
			MinBackoff:        time.Second,
			MaxBackoff:        5 * time.Minute,
			PollAfter:         5 * time.Second,
			BatchSize:         100,
		},
		Update: Update{
			Root:           "/opt/tolem",
			Keys:           []string{},
			RestartCommand: []string{"systemctl", "restart", "tolem"},
			HealthTimeout:  60 * time.Second,
			Keep:           3,
		},
		Log:     Log{Level: "info", Format: "text"},
		Metrics: Metrics{Listen: DefaultMetricsListen},
	}
}

// DefaultConsole returns the console defaults a console section starts from;
// port and technicians stay empty.
func DefaultConsole() *Console {
	return &Console{
		Baud:         115200,
		IdleLogout:   10 * time.Minute,
		LockoutAfter: 5,
		LockoutFor:   30 * time.Minute,
	}
}
