package banksim

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sort"
	"strings"

	"tolem/kiosk"
	"tolem/sync/bankapi"
)

// Sandbox defaults, used by cmd/banksim when no -terminal is given.
const (
	DefaultListen     = "127.0.0.1:8700"
	DefaultTerminalID = "KZ-SIM-0001"
	DefaultSecret     = "sandbox-secret"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// ParseTerminal reads a -terminal value: ID=SECRET.
func ParseTerminal(v string) (string, []byte, error) {
	id, secret, ok := strings.Cut(v, "=")
	if !ok || id == "" || secret == "" {
		return "", nil, fmt.Errorf("-terminal %q: want ID=SECRET", v)
	}
	return id, []byte(secret), nil
}

// ParseWallet reads a -wallet value: +77011234567=Name.
func ParseWallet(v string) (kiosk.Phone, string, error) {
	p, name, ok := strings.Cut(v, "=")
	if !ok || !bankapi.ValidPhone(kiosk.Phone(p)) || name == "" {
		return "", "", fmt.Errorf("-wallet %q: want +7XXXXXXXXXX=Name", v)
	}
	return kiosk.Phone(p), name, nil
}

// ReadWallets reads a wallets file: one "phone name" a line, the name being
// the rest of the line; blank lines and lines starting with # are skipped.
func ReadWallets(r io.Reader) (map[kiosk.Phone]string, error) {
	out := map[kiosk.Phone]string{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, name, _ := strings.Cut(line, " ")
		name = strings.TrimSpace(name)
		if !bankapi.ValidPhone(kiosk.Phone(p)) || name == "" {
			return nil, fmt.Errorf("line %d: want \"+7XXXXXXXXXX Name\"", n)
		}
		out[kiosk.Phone(p)] = name
	}
	return out, sc.Err()
}

// Run is cmd/banksim: it parses args, serves until ctx is done, and prints
// the URL on stdout once listening.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("banksim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var terminals, wallets listFlag
	listen := fs.String("listen", DefaultListen, "address to listen on (loopback: the admin endpoints answer loopback only)")
	dbPath := fs.String("db", "", "SQLite file that keeps top-ups across restarts (default: a temporary file)")
	fs.Var(&terminals, "terminal", "terminal and its secret, ID=SECRET (repeatable; default "+DefaultTerminalID+"="+DefaultSecret+")")
	fs.Var(&wallets, "wallet", "registered wallet, +77011234567=Name (repeatable)")
	walletsFile := fs.String("wallets", "", "file of registered wallets, one \"+77011234567 Name\" a line")
	anyWallet := fs.Bool("any-wallet", false, "treat every well-formed number as a registered wallet")
	var f Faults
	fs.DurationVar(&f.Latency, "latency", 0, "delay of every answer")
	fs.Float64Var(&f.FailRate, "fail-rate", 0, "share of requests answered 503 (0…1)")
	fs.Float64Var(&f.PendingRate, "pending-rate", 0, "share of new top-ups answered 202 and credited later (0…1)")
	fs.IntVar(&f.PendingEvery, "pending-every", 0, "answer 202 to every `n`-th top-up by receipt number, from the first (0: none)")
	fs.DurationVar(&f.CreditDelay, "credit-delay", 0, "delay before a pending top-up is credited or rejected")
	fs.Float64Var(&f.DropRate, "drop-rate", 0, "share of top-ups, batches and collections committed and then left unanswered (0…1)")
	fs.Float64Var(&f.RateLimit, "rate-limit", 0, "requests per second before 429 (0: no limit)")
	fs.DurationVar(&f.ClockSkew, "clock-skew", 0, "shift of the bank's clock, e.g. 10m or -10m")
	seed := fs.Uint64("seed", 0, "seed of the fault rolls (0: random)")
	verbose := fs.Bool("v", false, "log every answer")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	opts := Options{DBPath: *dbPath, Terminals: map[string][]byte{}, Wallets: map[kiosk.Phone]string{},
		AnyWallet: *anyWallet, Faults: f, Seed: *seed, Log: log}
	if len(terminals) == 0 {
		terminals = listFlag{DefaultTerminalID + "=" + DefaultSecret}
	}
	for _, v := range terminals {
		id, sec, err := ParseTerminal(v)
		if err != nil {
			return err
		}
		opts.Terminals[id] = sec
	}
	if *walletsFile != "" {
		fh, err := os.Open(*walletsFile)
		if err != nil {
			return fmt.Errorf("-wallets: %w", err)
		}
		m, err := ReadWallets(fh)
		fh.Close()
		if err != nil {
			return fmt.Errorf("-wallets %s: %w", *walletsFile, err)
		}
		for p, n := range m {
			opts.Wallets[p] = n
		}
	}
	for _, v := range wallets {
		p, n, err := ParseWallet(v)
		if err != nil {
			return err
		}
		opts.Wallets[p] = n
	}

	srv, err := New(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	srv.Start(ln)
	ids := make([]string, 0, len(opts.Terminals))
	for id := range opts.Terminals {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	fmt.Fprintf(stdout, "banksim listening on %s (terminals %s, %d wallets)\n", srv.URL(), strings.Join(ids, ", "), len(opts.Wallets))

	select {
	case <-ctx.Done():
		return srv.Close()
	case err := <-srv.done:
		if err != nil {
			return err
		}
		return errors.New("banksim stopped serving")
	}
}
