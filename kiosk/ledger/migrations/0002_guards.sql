-- Guards that hold whatever code writes to the ledger: money is never deleted,
-- a bill in the cassette stays there, a receipt number never goes back, and a
-- body once sent to the bank never changes.

CREATE TRIGGER bills_never_deleted BEFORE DELETE ON bills
BEGIN
	SELECT RAISE(ABORT, 'bills are never deleted');
END;

CREATE TRIGGER bills_in_cassette_stay BEFORE UPDATE OF state ON bills
	WHEN OLD.state IN ('stacked', 'suspense') AND NEW.state <> OLD.state
BEGIN
	SELECT RAISE(ABORT, 'a bill in the cassette never changes state');
END;

CREATE TRIGGER topups_never_deleted BEFORE DELETE ON topups
BEGIN
	SELECT RAISE(ABORT, 'top-ups are never deleted');
END;

CREATE TRIGGER topups_body_once BEFORE UPDATE OF body ON topups
	WHEN OLD.body IS NOT NULL AND NEW.body IS NOT OLD.body
BEGIN
	SELECT RAISE(ABORT, 'a top-up body sent to the bank never changes');
END;

CREATE TRIGGER collections_body_once BEFORE UPDATE OF body ON cassette_periods
	WHEN OLD.body IS NOT NULL AND NEW.body IS NOT OLD.body
BEGIN
	SELECT RAISE(ABORT, 'a collection body sent to the bank never changes');
END;

CREATE TRIGGER counters_never_decrease BEFORE UPDATE OF value ON counters
	WHEN NEW.value < OLD.value
BEGIN
	SELECT RAISE(ABORT, 'a counter never goes back');
END;

CREATE TRIGGER counters_never_deleted BEFORE DELETE ON counters
BEGIN
	SELECT RAISE(ABORT, 'counters are never deleted');
END;
