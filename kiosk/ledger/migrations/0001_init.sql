-- The kiosk's journal. Times are fixed-width RFC 3339 text in UTC with
-- nanoseconds; money is INTEGER tiyn; enums are their strings.

-- A cassette period runs from one collection to the next: every bill in the
-- cassette belongs to exactly one. Exactly one period is open at a time.
CREATE TABLE cassette_periods (
	id              INTEGER PRIMARY KEY,
	opened_at       TEXT NOT NULL,
	closed_at       TEXT,
	-- the bag or seal number the technician typed at the collection
	seal            TEXT,
	-- the collection's uuid: the Idempotency-Key of POST /v1/collections
	collection_id   TEXT UNIQUE,
	sync_state      TEXT CHECK (sync_state IN ('unsent', 'sent', 'review')),
	sync_note       TEXT NOT NULL DEFAULT '',
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at TEXT,
	body            BLOB,
	updated_at      TEXT NOT NULL,
	CHECK ((closed_at IS NULL) = (collection_id IS NULL)),
	CHECK ((closed_at IS NULL) = (sync_state IS NULL))
) STRICT;

CREATE UNIQUE INDEX cassette_periods_one_open
	ON cassette_periods ((closed_at IS NULL)) WHERE closed_at IS NULL;

CREATE INDEX cassette_periods_sync
	ON cassette_periods (sync_state, id) WHERE sync_state IS NOT NULL;

CREATE TABLE sessions (
	id        TEXT PRIMARY KEY,
	phone     TEXT NOT NULL,
	offline   INTEGER NOT NULL CHECK (offline IN (0, 1)),
	opened_at TEXT NOT NULL,
	closed_at TEXT,
	status    TEXT NOT NULL DEFAULT 'open'
		CHECK (status IN ('open', 'completed', 'empty')),
	CHECK ((status = 'open') = (closed_at IS NULL))
) STRICT;

CREATE INDEX sessions_open ON sessions (opened_at) WHERE status = 'open';

-- A bill's id is session_id || '/' || seq, so the same device event seen twice
-- is one row. A suspense bill (in the cassette, owner unknown) has no session.
CREATE TABLE bills (
	id          TEXT PRIMARY KEY,
	session_id  TEXT REFERENCES sessions (id),
	seq         INTEGER NOT NULL,
	value       INTEGER NOT NULL CHECK (value >= 0),
	state       TEXT NOT NULL
		CHECK (state IN ('escrowed', 'stacked', 'returned', 'uncertain', 'suspense')),
	escrowed_at TEXT NOT NULL,
	settled_at  TEXT,
	-- the cassette period of a bill that is (or may be) in the cassette
	period_id   INTEGER REFERENCES cassette_periods (id),
	UNIQUE (session_id, seq),
	CHECK ((state = 'suspense') = (session_id IS NULL)),
	CHECK ((state = 'escrowed') = (settled_at IS NULL)),
	CHECK ((state IN ('escrowed', 'returned')) = (period_id IS NULL))
) STRICT;

CREATE INDEX bills_unsettled ON bills (state, escrowed_at)
	WHERE state IN ('escrowed', 'uncertain', 'suspense');
CREATE INDEX bills_period ON bills (period_id, state) WHERE period_id IS NOT NULL;

-- Receipt numbers come from here, not from MAX(receipt_no)+1, so that a number
-- once printed is never handed out again, whatever happens to the rows.
CREATE TABLE counters (
	name  TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) STRICT;

INSERT INTO counters (name, value) VALUES ('receipt_no', 0);

CREATE TABLE topups (
	id              TEXT PRIMARY KEY,
	receipt_no      INTEGER NOT NULL UNIQUE CHECK (receipt_no > 0),
	session_id      TEXT NOT NULL UNIQUE REFERENCES sessions (id),
	phone           TEXT NOT NULL,
	amount          INTEGER NOT NULL CHECK (amount > 0),
	offline         INTEGER NOT NULL CHECK (offline IN (0, 1)),
	created_at      TEXT NOT NULL,
	completed_at    TEXT NOT NULL,
	recovered       INTEGER NOT NULL DEFAULT 0 CHECK (recovered IN (0, 1)),
	sync_state      TEXT NOT NULL DEFAULT 'unsent'
		CHECK (sync_state IN ('unsent', 'pending', 'credited', 'rejected', 'review')),
	sync_note       TEXT NOT NULL DEFAULT '',
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at TEXT,
	last_error      TEXT NOT NULL DEFAULT '',
	-- the exact bytes sent to the bank, stored at the first send and resent
	-- unchanged on every retry
	body            BLOB,
	credited_at     TEXT,
	updated_at      TEXT NOT NULL
) STRICT;

CREATE INDEX topups_sync ON topups (sync_state, receipt_no);

CREATE TABLE audit (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	at     TEXT NOT NULL,
	actor  TEXT NOT NULL,
	action TEXT NOT NULL,
	detail TEXT NOT NULL DEFAULT ''
) STRICT;

-- Small persistent flags: manual out-of-service, console lockout…
CREATE TABLE settings (
	key        TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	updated_at TEXT NOT NULL
) STRICT;
