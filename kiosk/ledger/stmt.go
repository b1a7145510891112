package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The hot path's statements are prepared once, on the writing connection, at
// Open. SQLite compiles every trigger that fires on a statement into that
// statement's program, so an INSERT on a chained table compiles the hash
// chain's trigger (the JSON of the row, the hash call, the entry's insert)
// each time it is prepared: about as much CPU as the rest of the write.
// Prepared once, the program is reused; SQLite prepares it again by itself
// after a schema change (a migration, the triggers put back). The writing
// pool has one connection, so tx.StmtContext finds the statement already
// prepared on the connection of every transaction.
type stmts struct {
	// escrow inserts a bill escrowed if its session is open and the bill is
	// not recorded yet: RecordEscrow's one statement when all is well.
	escrow *sql.Stmt
	// The outbox's records: a batch's bodies and outcomes, many to a
	// transaction, each an update of a chained row.
	syncState, syncUpdate, bodySet, bodyGet *sql.Stmt
}

const (
	syncStateQuery  = `SELECT sync_state FROM topups WHERE id = ?`
	syncUpdateQuery = `UPDATE topups SET sync_state = ?, sync_note = ?, attempts = attempts + 1,
			next_attempt_at = ?, last_error = IFNULL(?, last_error),
			credited_at = IFNULL(credited_at, ?), updated_at = ?
		WHERE id = ?`
	bodySetQuery = `UPDATE topups SET body = ? WHERE id = ? AND body IS NULL`
	bodyGetQuery = `SELECT body FROM topups WHERE id = ?`
)

const escrowInsert = `INSERT INTO bills (id, session_id, seq, value, state, escrowed_at)
	SELECT ?1, id, ?2, ?3, 'escrowed', ?4 FROM sessions WHERE id = ?5 AND status = 'open'
	ON CONFLICT DO NOTHING`

func (l *Ledger) prepare(ctx context.Context) error {
	var err error
	for _, p := range []struct {
		st **sql.Stmt
		q  string
	}{{&l.st.escrow, escrowInsert}, {&l.st.syncState, syncStateQuery}, {&l.st.syncUpdate, syncUpdateQuery},
		{&l.st.bodySet, bodySetQuery}, {&l.st.bodyGet, bodyGetQuery}} {
		if *p.st, err = l.w.PrepareContext(ctx, p.q); err != nil {
			return fmt.Errorf("prepare %q: %w", p.q, err)
		}
	}
	return nil
}

func (s *stmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.escrow, s.syncState, s.syncUpdate, s.bodySet, s.bodyGet} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
