// Package ledger is the kiosk's durable journal on SQLite (modernc.org/sqlite,
// pure Go): sessions, every bill the kiosk decided to stack, top-ups with their
// receipt numbers and their delivery to the bank, cassette periods and
// collections, the audit trail and a few persistent settings.
//
// It implements kiosk.Ledger. Durability comes first: the database runs in WAL
// mode with synchronous=FULL, read back from the writing connection at start
// (anything less refuses to start, because under NORMAL a committed bill can
// vanish on a power cut), and every method commits before it returns.
//
// One *sql.DB with a single connection does every write, so writes are
// serialised by database/sql and each one takes the write lock at BEGIN
// (_txlock=immediate) instead of failing half-way with SQLITE_BUSY. A second
// *sql.DB, a small pool of query_only connections, serves reads: in WAL mode
// readers see the last committed state and never block the writer.
//
// At Open, before anything is written or created, PRAGMA quick_check runs on a
// read-only connection; a damaged file is left byte for byte as it was for a
// technician to take away, and Open returns an error wrapping ErrCorrupt. A
// file above Options.CheckBelow is checked by the caller in the background
// instead (QuickCheck, Damaged): the check reads the whole file.
// Then the numbered migrations embedded from migrations/ are applied, each in
// its own transaction and recorded in schema_migrations.
//
// Times are stored as fixed-width RFC 3339 text in UTC with nanoseconds
// ("2025-03-01T09:30:00.000000000Z"), which a technician can read in the sqlite3
// shell and which sorts as text in time order. Money is INTEGER tiyn; enums are
// stored as their strings. Rows that record money are never deleted: triggers
// refuse the DELETE, and a bill in the cassette can never change state again.
package ledger
