-- What became of each top-up's receipt (SPEC §8). A top-up with no row is one
-- whose printing never started: a power cut came between its commit and the
-- printer, and the next start prints it while the top-up is recent. A row
-- makes the receipt printed once: a restart never prints it again.
--   printed  the printer took the whole receipt
--   skipped  the printer could not print; the customer saw the code instead
--   failed   printing started and the printer failed (note says why)
-- copies counts the copies printed on a technician's request (each is also
-- in the audit table with the technician's id).
CREATE TABLE receipts (
	topup_id TEXT PRIMARY KEY REFERENCES topups (id),
	state    TEXT NOT NULL CHECK (state IN ('printed', 'skipped', 'failed')),
	note     TEXT NOT NULL DEFAULT '',
	at       TEXT NOT NULL,
	copies   INTEGER NOT NULL DEFAULT 0 CHECK (copies >= 0)
) STRICT;
