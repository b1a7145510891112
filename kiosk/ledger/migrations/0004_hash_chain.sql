-- The tamper-evident chain: an append-only journal of every version of the
-- rows of bills, topups, cassette_periods (collections) and audit. Each entry
-- holds the row's canonical content (a JSON array of its columns, in the order
-- chain.go lists them) and the SHA-256 of that and of the previous entry's
-- hash, so that changing or removing any row or entry after the fact shows.
-- The entries are written by TEMP triggers that the ledger creates on its
-- writing connection (chain.go), not by triggers stored here: a release
-- rolled back to one without the chain then still writes (its rows are simply
-- not chained, which verify reports).
CREATE TABLE chain (
	seq     INTEGER PRIMARY KEY,
	tbl     TEXT NOT NULL,
	row_id  TEXT NOT NULL,
	content TEXT NOT NULL,
	prev    TEXT NOT NULL,
	hash    TEXT NOT NULL
) STRICT;

-- Only a collection's entries are looked up by row (its body carries the
-- head at its closing); verify groups the rest itself. An index on every
-- entry would cost each escrow write one more page to fsync.
CREATE INDEX chain_periods ON chain (row_id, seq) WHERE tbl = 'cassette_periods';

CREATE TRIGGER chain_never_updated BEFORE UPDATE ON chain
BEGIN
	SELECT RAISE(ABORT, 'the ledger chain is append-only');
END;

CREATE TRIGGER chain_never_deleted BEFORE DELETE ON chain
BEGIN
	SELECT RAISE(ABORT, 'the ledger chain is append-only');
END;

-- The rows that exist already, in table order, then id order. The content
-- expressions are chain.go's, written out; TestChainBackfill checks that
-- they agree.
CREATE TEMP TABLE chain_backfill (
	n       INTEGER PRIMARY KEY,
	tbl     TEXT NOT NULL,
	row_id  TEXT NOT NULL,
	content TEXT NOT NULL
);

INSERT INTO temp.chain_backfill (tbl, row_id, content)
SELECT 'cassette_periods', CAST(id AS TEXT),
	json_array(id, opened_at, closed_at, seal, collection_id, sync_state, tolem_sha256(body), counted)
FROM cassette_periods ORDER BY id;

INSERT INTO temp.chain_backfill (tbl, row_id, content)
SELECT 'bills', CAST(id AS TEXT),
	json_array(id, session_id, seq, value, state, escrowed_at, settled_at, period_id, stack_at, uncertain_why)
FROM bills ORDER BY rowid;

INSERT INTO temp.chain_backfill (tbl, row_id, content)
SELECT 'topups', CAST(id AS TEXT),
	json_array(id, receipt_no, session_id, phone, amount, offline, created_at, completed_at,
		recovered, sync_state, credited_at, tolem_sha256(body), reconciled)
FROM topups ORDER BY receipt_no;

INSERT INTO temp.chain_backfill (tbl, row_id, content)
SELECT 'audit', CAST(id AS TEXT), json_array(id, at, actor, action, detail)
FROM audit ORDER BY id;

-- Each entry's hash needs the one before: a recursive walk down n.
INSERT INTO chain (seq, tbl, row_id, content, prev, hash)
WITH RECURSIVE link (n, tbl, row_id, content, prev, hash) AS (
	SELECT 0, '', '', '', '', ''
	UNION ALL
	SELECT b.n, b.tbl, b.row_id, b.content, link.hash,
		tolem_chain_hash(b.n, b.tbl, b.row_id, b.content, link.hash)
	FROM link JOIN temp.chain_backfill b ON b.n = link.n + 1
)
SELECT n, tbl, row_id, content, prev, hash FROM link WHERE n > 0;

DROP TABLE temp.chain_backfill;

-- Room kept for the writes made after a bill was told to STACK. Every write
-- appends to the chain, so on a full disk the record that a bill went into
-- the cassette could find no page; a few pages held here (a row of about a
-- page each) are given back for those writes only. See reserve.go.
CREATE TABLE space_reserve (
	id  INTEGER PRIMARY KEY,
	pad BLOB NOT NULL
) STRICT;
