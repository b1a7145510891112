package ledger

import (
	"context"
	"database/sql"
	"fmt"

	sqlite3 "modernc.org/sqlite/lib"
)

// The space reserve keeps a full disk from separating a bill from its
// record. A bill is told to STACK only after RecordEscrow committed; the
// writes that follow (the STACK taken, stacked, returned) must then not fail
// for want of a page, or a bill in the cassette would be left escrowed in the
// ledger. Since the hash chain makes every write append, each of those can
// need one. So the ledger holds reservePages pages in space_reserve (one row
// of about a page each), filled at Open when there is room. When one of
// those writes fails on a full disk, one row is deleted, which hands its
// page to SQLite's free list, and the write is tried again. RecordEscrow
// never draws on it: it fails first, and the bill is returned.
const (
	reservePages = 8
	reservePad   = 3800 // bytes: one row fills one 4 KiB leaf page
)

// fillReserve tops the reserve up; a full disk leaves it as it is.
func (l *Ledger) fillReserve(ctx context.Context) {
	err := l.write(ctx, "fill the space reserve", func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM space_reserve`).Scan(&n); err != nil {
			return err
		}
		for ; n < reservePages; n++ {
			if _, err := tx.ExecContext(ctx, `INSERT INTO space_reserve (pad) VALUES (zeroblob(?))`, reservePad); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		l.log.Warn("ledger: the space reserve could not be filled; a full disk may leave a stacked bill unrecorded", "err", err)
	}
}

// writeAfterStack is write for the records made after a bill was told to
// STACK: on a full disk it draws on the space reserve, one page at a time.
func (l *Ledger) writeAfterStack(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	for {
		err := l.write(ctx, op, fn)
		if err == nil || sqliteCode(err) != sqlite3.SQLITE_FULL {
			return err
		}
		released := false
		rerr := l.write(ctx, "release the space reserve", func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM space_reserve WHERE id = (SELECT MIN(id) FROM space_reserve)`)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			released = n > 0
			return err
		})
		if rerr != nil || !released {
			return err
		}
		l.log.Warn(fmt.Sprintf("ledger: disk full; a reserved page taken for %s", op))
	}
}
