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
}

const escrowInsert = `INSERT INTO bills (id, session_id, seq, value, state, escrowed_at)
	SELECT ?1, id, ?2, ?3, 'escrowed', ?4 FROM sessions WHERE id = ?5 AND status = 'open'
	ON CONFLICT DO NOTHING`

func (l *Ledger) prepare(ctx context.Context) error {
	var err error
	if l.st.escrow, err = l.w.PrepareContext(ctx, escrowInsert); err != nil {
		return fmt.Errorf("prepare the escrow insert: %w", err)
	}
	return nil
}

func (s *stmts) close() error {
	var errs []error
	for _, st := range []*sql.Stmt{s.escrow} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}
