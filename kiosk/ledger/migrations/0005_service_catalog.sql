-- Payments for the services of the bank's catalog: a session and its top-up
-- carry the service paid (empty: the wallet, as every row before this) and,
-- for a service whose account is a run of digits, that account (phone then
-- is empty). The chain covers both on a top-up that has them (chain.go).
ALTER TABLE sessions ADD COLUMN service TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN account TEXT NOT NULL DEFAULT '';
ALTER TABLE topups ADD COLUMN service TEXT NOT NULL DEFAULT '';
ALTER TABLE topups ADD COLUMN account TEXT NOT NULL DEFAULT '';

CREATE INDEX topups_service ON topups (service, receipt_no) WHERE service <> '';

-- The last catalog the bank sent that the kiosk could use, as it came, so
-- that a kiosk that starts without the bank still shows the menu. One row.
CREATE TABLE catalog (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	version    TEXT NOT NULL,
	body       BLOB NOT NULL,
	fetched_at TEXT NOT NULL
) STRICT;
