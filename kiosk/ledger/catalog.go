package ledger

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"tolem/kiosk"
)

// SaveCatalog keeps the catalog body the bank sent, once kiosk.ParseCatalog
// took it, in place of the one kept before. The body is stored as it came, so
// that a later release reads it with its own rules.
func (l *Ledger) SaveCatalog(ctx context.Context, version string, body []byte, at time.Time) error {
	if version == "" || len(body) == 0 {
		return fmt.Errorf("ledger: save catalog: %w: version and body are required", ErrInvalid)
	}
	at = l.now(at)
	return l.write(ctx, "save catalog "+version, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO catalog (id, version, body, fetched_at) VALUES (1, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET version = excluded.version, body = excluded.body, fetched_at = excluded.fetched_at`,
			version, body, fmtTime(at))
		return err
	})
}

// Catalog returns the catalog kept by SaveCatalog, parsed;
// kiosk.ErrNotFound when the kiosk never got one.
func (l *Ledger) Catalog(ctx context.Context) (kiosk.Catalog, error) {
	var (
		body    []byte
		fetched string
	)
	err := l.read(ctx, "catalog", func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT body, fetched_at FROM catalog WHERE id = 1`).Scan(&body, &fetched)
		if errors.Is(err, sql.ErrNoRows) {
			return kiosk.ErrNotFound
		}
		return err
	})
	if err != nil {
		return kiosk.Catalog{}, err
	}
	c, err := kiosk.ParseCatalog(body)
	if err != nil {
		return kiosk.Catalog{}, fmt.Errorf("ledger: kept catalog: %w", err)
	}
	if c.FetchedAt, err = parseTime(fetched); err != nil {
		return kiosk.Catalog{}, err
	}
	return c, nil
}
