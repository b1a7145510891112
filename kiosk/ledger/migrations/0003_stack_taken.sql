-- When the acceptor took the STACK command for a bill. A bill still escrowed
-- with this set, that the device reports nowhere at power-up, finished
-- stacking before the kiosk heard of it: it is in the cassette.
ALTER TABLE bills ADD COLUMN stack_at TEXT;

-- Why a bill is uncertain: 'no_report' while recovery ran without the
-- acceptor's power-up report (a late report may still settle it), 'unknown'
-- when the report could not tell. A collection's physical count settles both.
ALTER TABLE bills ADD COLUMN uncertain_why TEXT;

-- A follow-up session credits a bill found in the cassette after its own
-- session was settled without it (a late power-up report, a collection's
-- count): same phone, its own top-up, marked reconciled.
ALTER TABLE sessions ADD COLUMN follows TEXT REFERENCES sessions (id);
ALTER TABLE topups ADD COLUMN reconciled INTEGER NOT NULL DEFAULT 0 CHECK (reconciled IN (0, 1));

-- A collection's physical count, as the technician or the count centre typed
-- it ("value:count,…" in tiyn), and what it settled.
ALTER TABLE cassette_periods ADD COLUMN counted TEXT;

-- A body the bank refused as invalid (422) was never stored by the bank: the
-- bank keeps every id it accepted and answers a known id with its status, never
-- 422. Such a body may be rebuilt once, under the same id, when the kiosk's own
-- record was wrong (a completion time before the session opened, from a clock
-- that booted behind). Any other change to a sent body is still refused.
DROP TRIGGER topups_body_once;
CREATE TRIGGER topups_body_once BEFORE UPDATE OF body ON topups
	WHEN OLD.body IS NOT NULL AND NEW.body IS NOT OLD.body
		AND NOT (NEW.body IS NULL AND OLD.sync_state = 'review' AND OLD.sync_note LIKE '%422%')
BEGIN
	SELECT RAISE(ABORT, 'a top-up body sent to the bank never changes');
END;
