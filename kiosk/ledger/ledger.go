package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"tolem/kiosk"
)

// Options tune Open. The zero value is a production ledger on the wall clock.
type Options struct {
	// Logger receives the ledger's few lines (open, migrations, recovery).
	// Nil discards them.
	Logger *slog.Logger
	// ReadConns bounds the pool of read-only connections serving the console,
	// the outbox and the heartbeat. Zero means 4.
	ReadConns int
	// MaxBytes caps the database file (PRAGMA max_page_count on the writing
	// connection); a write that would grow it further fails like a full disk.
	// Zero means no cap. Tests use it to simulate a full disk.
	MaxBytes int64
	// Clock stamps records whose caller gives no time (audit lines, settings,
	// the first cassette period, migrations). Nil means the system clock.
	Clock kiosk.Clock
	// CheckBelow is the file size up to which Open runs quick_check before
	// anything else. A bigger file is not checked at Open, after a clean
	// shutdown or a power cut alike (Checked reports false): the caller runs
	// QuickCheck in the background and takes the kiosk out of service if it
	// fails. quick_check reads the whole file: about 1.3 s a GB here, a
	// minute for a five-year ledger on an SD card. Zero means 256 MB (about
	// a year at 200 top-ups a day); negative: always check at Open.
	CheckBelow int64
}

// Ledger is the SQLite journal of the kiosk. It is safe for concurrent use.
type Ledger struct {
	w     *sql.DB // one connection: every write goes through it, in turn
	r     *sql.DB // query_only pool for reads
	log   *slog.Logger
	clock kiosk.Clock
	path  string
	st    stmts
	// checked: Open ran quick_check on the file.
	checked bool
	// damage is what QuickCheck found wrong with the file; nil while
	// nothing was.
	damage atomic.Pointer[error]

	closeOnce sync.Once
	closeErr  error
}

var _ kiosk.Ledger = (*Ledger)(nil)

const (
	busyTimeout     = "busy_timeout(5000)"
	defaultPageSize = 4096
	defaultReads    = 4
)

// writerParams go into the DSN of the writing pool, so that every connection
// database/sql ever opens there gets them, not only the first.
var writerParams = []string{
	"_pragma=" + busyTimeout,
	"_pragma=foreign_keys(1)",
	"_pragma=journal_mode(WAL)",
	"_pragma=synchronous(FULL)",
	"_txlock=immediate",
}

var readerParams = []string{
	"_pragma=" + busyTimeout,
	"_pragma=query_only(1)",
}

// Open opens the ledger at path, creating it if it does not exist (its
// directory must). In order: PRAGMA quick_check on a read-only connection of an
// existing file (a failure returns an error wrapping ErrCorrupt and leaves the
// file as it was), the durability read-back on the writing connection
// (ErrNotDurable), the embedded migrations, and an open cassette period.
func Open(ctx context.Context, path string, opts Options) (*Ledger, error) {
	return open(ctx, path, opts, writerParams)
}

func open(ctx context.Context, path string, opts Options, wparams []string) (*Ledger, error) {
	if path == "" {
		return nil, fmt.Errorf("ledger: open: %w: empty path", ErrInvalid)
	}
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("ledger: open %s: %w: negative MaxBytes", path, ErrInvalid)
	}
	l := &Ledger{log: opts.Logger, clock: opts.Clock, path: path}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.clock == nil {
		l.clock = kiosk.SystemClock{}
	}
	reads := opts.ReadConns
	if reads <= 0 {
		reads = defaultReads
	}

	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, fmt.Errorf("ledger: open %s: data directory: %w; create it, writable by kioskd", path, err)
	}

	pageSize := int64(defaultPageSize)
	switch st, err := os.Stat(path); {
	case err == nil && !needsCheck(st.Size(), opts.CheckBelow):
		l.log.Info("ledger: quick_check left to the background: the file is big", "bytes", st.Size(),
			"unclean_shutdown", uncleanShutdown(path))
		ps, err := readPageSize(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("ledger: open %s: %w", path, err)
		}
		pageSize = ps
	case err == nil:
		ps, err := quickCheck(ctx, path)
		if err != nil {
			return nil, fmt.Errorf("ledger: open %s: %w", path, err)
		}
		pageSize, l.checked = ps, true
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}

	params := append([]string(nil), wparams...)
	if opts.MaxBytes > 0 {
		params = append(params, fmt.Sprintf("_pragma=max_page_count(%d)", max(opts.MaxBytes/pageSize, 1)))
	}
	w, err := sql.Open("sqlite", dsn(path, params))
	if err != nil {
		return nil, fmt.Errorf("ledger: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	l.w = w
	fail := func(err error) (*Ledger, error) {
		_ = l.Close()
		return nil, err
	}
	if err := w.PingContext(ctx); err != nil {
		return fail(writeFailure(ctx, "open "+path, err))
	}
	if err := checkDurability(ctx, w); err != nil {
		return fail(fmt.Errorf("ledger: open %s: %w", path, err))
	}
	applied, err := migrate(ctx, w, migrationFiles, l.clock)
	if err != nil {
		return fail(writeFailure(ctx, "open "+path+": migrate", err))
	}
	if err := installChain(ctx, w); err != nil {
		return fail(fmt.Errorf("ledger: open %s: %w", path, err))
	}
	if err := l.prepare(ctx); err != nil {
		return fail(fmt.Errorf("ledger: open %s: %w", path, err))
	}
	l.fillReserve(ctx)
	if newer, err := newerMigrations(ctx, w, migrationFiles); err != nil {
		return fail(fmt.Errorf("ledger: open %s: %w", path, err))
	} else if len(newer) > 0 {
		// Migrations only add, so an older release still runs; say so, since
		// a newer one left the ledger this way.
		l.log.Warn("ledger schema is newer than this release", "unknown_migrations", newer)
	}
	reissued := 0
	if err := l.write(ctx, "open "+path+": cassette period", func(tx *sql.Tx) error {
		if err := ensurePeriod(ctx, tx, l.clock.Now()); err != nil {
			return err
		}
		var err error
		reissued, err = reissueClockBodies(ctx, tx, l.clock.Now())
		return err
	}); err != nil {
		return fail(err)
	}
	if reissued > 0 {
		l.log.Warn("top-ups the bank refused for a completion time before their creation are queued again with the time corrected, under the same ids",
			"topups", reissued)
	}

	r, err := sql.Open("sqlite", dsn(path, readerParams))
	if err != nil {
		return fail(fmt.Errorf("ledger: open %s: %w", path, err))
	}
	r.SetMaxOpenConns(reads)
	r.SetMaxIdleConns(reads)
	l.r = r
	if err := r.PingContext(ctx); err != nil {
		return fail(fmt.Errorf("ledger: open %s: read pool: %w", path, err))
	}
	l.log.Info("ledger open", "path", path, "migrations_applied", applied, "read_conns", reads)
	return l, nil
}

// Close closes the read pool, then the writer: the last connection to close
// checkpoints the WAL into the database file. It is safe to call twice.
func (l *Ledger) Close() error {
	l.closeOnce.Do(func() {
		var errs []error
		if l.r != nil {
			errs = append(errs, l.r.Close())
		}
		if l.w != nil {
			errs = append(errs, l.st.close(), l.w.Close())
		}
		if err := errors.Join(errs...); err != nil {
			l.closeErr = fmt.Errorf("ledger: close %s: %w", l.path, err)
		}
	})
	return l.closeErr
}

// dsn makes a SQLite URI of path. modernc.org/sqlite hands a "file:" DSN to
// SQLite whole, which ignores the driver's own "_" parameters.
func dsn(path string, params []string) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	return "file:" + esc + "?" + strings.Join(params, "&")
}

const defaultCheckBelow = 256 << 20

// needsCheck tells whether Open must run quick_check on the file: when it
// is small enough for the check to cost start-up little. A bigger one is
// checked in the background, also after a power cut: with WAL and
// synchronous=FULL a power cut leaves no damaged page (a commit is in the
// WAL, checksummed, before it is acknowledged; a checkpoint cut short is
// done again from the WAL at the next open), so damage comes only from a
// card that broke its write promises, which can happen at any time, not
// only before a start. SQLite checks every page it reads, so damage in the
// pages the money path reads (the newest, the ones a torn write hits) fails
// that write, which takes the kiosk out of service; the full check adds
// the pages nobody reads. docs/design.md, "A ledger that grows for years".
func needsCheck(size, below int64) bool {
	if below == 0 {
		below = defaultCheckBelow
	}
	return below < 0 || size <= below
}

// uncleanShutdown reports whether the last run left its -wal with frames in
// it (a clean close checkpoints the WAL and removes it).
func uncleanShutdown(path string) bool {
	st, err := os.Stat(path + "-wal")
	return err == nil && st.Size() > 0
}

// Checked reports whether Open ran quick_check on the file. When it did
// not, run QuickCheck once the kiosk is up.
func (l *Ledger) Checked() bool { return l.checked }

// Damaged returns what QuickCheck found wrong with the file (an error
// wrapping ErrCorrupt), or nil.
func (l *Ledger) Damaged() error {
	if e := l.damage.Load(); e != nil {
		return *e
	}
	return nil
}

// QuickCheck runs PRAGMA quick_check on a read connection. In WAL mode it
// blocks no write, so it runs while the kiosk serves customers. It returns
// an error wrapping ErrCorrupt when the file is damaged, which Damaged
// reports from then on.
func (l *Ledger) QuickCheck(ctx context.Context) error {
	err := l.quickCheck(ctx)
	if errors.Is(err, ErrCorrupt) {
		l.damage.CompareAndSwap(nil, &err)
	}
	return err
}

func (l *Ledger) quickCheck(ctx context.Context) error {
	conn, err := l.r.Conn(ctx)
	if err != nil {
		return fmt.Errorf("ledger: quick_check: %w", err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return fmt.Errorf("ledger: quick_check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("ledger: quick_check: %w", err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		if isCorruption(err) {
			return fmt.Errorf("ledger: %w: quick_check: %v; keep a copy of the data directory and replace the card", ErrCorrupt, err)
		}
		return fmt.Errorf("ledger: quick_check: %w", err)
	}
	if len(problems) > 0 {
		if len(problems) > 3 {
			problems = append(problems[:3], fmt.Sprintf("… %d more", len(problems)-3))
		}
		return fmt.Errorf("ledger: %w: quick_check: %s; keep a copy of the data directory and replace the card",
			ErrCorrupt, strings.Join(problems, "; "))
	}
	return nil
}

// IntegrityCheckFile runs PRAGMA integrity_check (quick_check's checks and
// every index against its table) on a ledger file read-only: on an
// auditor's copy, or on the kiosk while kioskd runs (WAL readers block no
// writer). It reads the whole file, so it takes seconds to minutes. Damage:
// an error wrapping ErrCorrupt, naming the first problems.
func IntegrityCheckFile(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("ledger: integrity check of %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn(path, []string{"mode=ro", "_pragma=" + busyTimeout}))
	if err != nil {
		return fmt.Errorf("ledger: integrity check of %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check(20)")
	if err != nil {
		if isCorruption(err) {
			return fmt.Errorf("ledger: integrity check of %s: %w: %v", path, ErrCorrupt, err)
		}
		return fmt.Errorf("ledger: integrity check of %s: %w", path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("ledger: integrity check of %s: %w", path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		if isCorruption(err) {
			return fmt.Errorf("ledger: integrity check of %s: %w: %v", path, ErrCorrupt, err)
		}
		return fmt.Errorf("ledger: integrity check of %s: %w", path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("ledger: integrity check of %s: %w: %s", path, ErrCorrupt, strings.Join(problems, "; "))
	}
	return nil
}

// readPageSize reads the page size from the file's header.
func readPageSize(ctx context.Context, path string) (int64, error) {
	db, err := sql.Open("sqlite", dsn(path, []string{"mode=ro", "_pragma=" + busyTimeout}))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&n); err != nil {
		if isCorruption(err) {
			return 0, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return 0, fmt.Errorf("page_size: %w", err)
	}
	return n, nil
}

// quickCheck runs PRAGMA quick_check on a read-only connection, so that a
// damaged file is not written (no migration, no journal-mode change, no
// checkpoint), and returns the file's page size. Reading a WAL-mode file makes
// SQLite create its -wal and -shm companions; when the check fails, those it
// created are removed again, so that the data directory is left exactly as it
// was found.
func quickCheck(ctx context.Context, path string) (int64, error) {
	var created []string
	for _, f := range []string{path + "-wal", path + "-shm"} {
		if _, err := os.Lstat(f); errors.Is(err, fs.ErrNotExist) {
			created = append(created, f)
		}
	}
	pageSize, err := readCheck(ctx, path)
	if err != nil {
		for _, f := range created {
			_ = os.Remove(f)
		}
	}
	return pageSize, err
}

func readCheck(ctx context.Context, path string) (pageSize int64, err error) {
	db, err := sql.Open("sqlite", dsn(path, []string{"mode=ro", "_pragma=" + busyTimeout}))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	corrupt := func(detail string) error {
		return fmt.Errorf("%w: quick_check: %s; the file was left untouched: stop kioskd, "+
			"keep a copy of the data directory (its unsent top-ups are in it), then move the file aside "+
			"so that a new ledger starts", ErrCorrupt, detail)
	}
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		if isCorruption(err) {
			return 0, corrupt(err.Error())
		}
		return 0, fmt.Errorf("quick_check: %w", err)
	}
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return 0, fmt.Errorf("quick_check: %w", err)
		}
		for line := range strings.Lines(s) {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "*** in database") {
				problems = append(problems, line)
			}
		}
	}
	if err := rows.Err(); err != nil {
		if isCorruption(err) {
			return 0, corrupt(err.Error())
		}
		return 0, fmt.Errorf("quick_check: %w", err)
	}
	if len(problems) != 1 || problems[0] != "ok" {
		if len(problems) == 0 {
			problems = []string{"no answer"}
		}
		if len(problems) > 3 {
			problems = append(problems[:3], fmt.Sprintf("… %d more", len(problems)-3))
		}
		return 0, corrupt(strings.Join(problems, "; "))
	}
	if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return 0, fmt.Errorf("page_size: %w", err)
	}
	return pageSize, nil
}

// checkDurability reads back, on the writing connection itself, what the DSN
// asked for. A driver or DSN change that silently dropped a pragma would
// otherwise go unnoticed until the first power cut.
func checkDurability(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("read journal_mode: %w", err)
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("%w: journal_mode is %s, not WAL: refusing to start", ErrNotDurable, mode)
	}
	var syncMode int
	if err := db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
		return fmt.Errorf("read synchronous: %w", err)
	}
	if syncMode != 2 {
		names := map[int]string{0: "OFF", 1: "NORMAL", 3: "EXTRA"}
		return fmt.Errorf("%w: synchronous is %s, not FULL: a committed bill could vanish on a power cut; refusing to start",
			ErrNotDurable, names[syncMode])
	}
	var fk int
	if err := db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("read foreign_keys: %w", err)
	}
	if fk != 1 {
		return fmt.Errorf("%w: foreign_keys is off: refusing to start", ErrNotDurable)
	}
	return nil
}

// write runs fn in one IMMEDIATE transaction on the writer and commits it.
func (l *Ledger) write(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := l.w.BeginTx(ctx, nil)
	if err != nil {
		return writeFailure(ctx, op, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return writeFailure(ctx, op, err)
	}
	if err := tx.Commit(); err != nil {
		return writeFailure(ctx, op, err)
	}
	return nil
}

// read runs fn in one read transaction on the read pool, so that everything fn
// reads comes from the same committed state.
func (l *Ledger) read(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	tx, err := l.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("ledger: %s: %w", op, err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	if err := fn(tx); err != nil {
		return fmt.Errorf("ledger: %s: %w", op, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("ledger: %s: %w", op, err)
	}
	return nil
}

// now is at, or the ledger's clock when the caller gave no time.
func (l *Ledger) now(at time.Time) time.Time {
	if at.IsZero() {
		return l.clock.Now()
	}
	return at
}

// timeLayout is RFC 3339 with a fixed width, so that stored times sort as
// text (RFC3339Nano trims trailing zeros and would not).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return fmtTime(t)
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t, nil
}

func parseNullTime(s sql.NullString) (time.Time, error) {
	if !s.Valid {
		return time.Time{}, nil
	}
	return parseTime(s.String)
}
