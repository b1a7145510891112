package ledger

import (
	"context"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"tolem/kiosk"
)

// Errors of the ledger beyond those of kiosk.Ledger (kiosk.ErrLedgerWrite,
// kiosk.ErrEmptySession, kiosk.ErrNotFound).
var (
	// ErrCorrupt: PRAGMA quick_check found the database damaged at Open. The
	// file is left untouched.
	ErrCorrupt = errors.New("ledger database is corrupt")
	// ErrNotDurable: the writing connection does not run in WAL mode with
	// synchronous=FULL and foreign keys on, so a commit would not survive a
	// power cut; Open refuses to start.
	ErrNotDurable = errors.New("ledger is not durable")
	// ErrBillInFlight: a bill of the session is still recorded escrowed, so the
	// session cannot be completed or closed yet. The flow waits until the
	// acceptor reports the bill stacked or returned.
	ErrBillInFlight = errors.New("a bill is still in escrow")
	// ErrConflict: the record's state does not allow the change (a stacked bill
	// marked returned, a completed session closed empty, a credited top-up
	// moved back…). Nothing was written.
	ErrConflict = errors.New("change refused by the record's state")
	// ErrInvalid: the arguments cannot be recorded (empty id, non-positive
	// value…). Nothing was written.
	ErrInvalid = errors.New("invalid ledger record")
)

// logicErrors are the refusals a method decides itself; they pass through
// as they are instead of being reported as a failed write.
var logicErrors = []error{
	kiosk.ErrNotFound, kiosk.ErrEmptySession,
	ErrBillInFlight, ErrConflict, ErrInvalid,
}

func isLogic(err error) bool {
	for _, e := range logicErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// writeFailure turns the failure of a write transaction into the error a
// caller acts on. Everything that is neither a refusal of the ledger's own
// rules nor the caller's cancellation means the record is not durable, so it
// wraps kiosk.ErrLedgerWrite and the flow goes out of service; the text keeps
// SQLite's reason and tells the technician where to look.
func writeFailure(ctx context.Context, op string, err error) error {
	switch {
	case isLogic(err):
		return fmt.Errorf("ledger: %s: %w", op, err)
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		return fmt.Errorf("ledger: %s: %w (%v)", op, ctx.Err(), err)
	case ctx.Err() != nil:
		return fmt.Errorf("ledger: %s: %w", op, err)
	}
	return fmt.Errorf("ledger: %s: %w: %w; %s", op, kiosk.ErrLedgerWrite, err, writeHint(err))
}

// sqliteCode is the primary SQLite result code in err, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

func writeHint(err error) string {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_FULL:
		return "the data partition is full: free space on it, then restart kioskd"
	case sqlite3.SQLITE_READONLY:
		return "the data directory is read-only: check that it is mounted read-write and writable by kioskd"
	case sqlite3.SQLITE_IOERR:
		return "the storage failed: check the SD card or disk and the kernel log"
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return "another process holds the ledger locked: stop it (an open sqlite3 shell?)"
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return "the ledger file is damaged: stop kioskd and keep a copy of the data directory for analysis"
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
		return "the ledger file cannot be opened for writing: check the data directory and its permissions"
	}
	return "the kiosk stays out of service until the ledger can write again"
}

// isCorruption reports whether err says the file is not a sound database.
func isCorruption(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return true
	}
	return false
}
